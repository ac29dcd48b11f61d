using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Insights.Optimizer.Feedback;
using LlmMarketplace.Insights.Optimizer.Routing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace LlmMarketplace.Insights.Optimizer;

/// <summary>Registers and maps the optimizer: feedback, the auto-router, experiments.</summary>
public static class OptimizerExtensions
{
    public static IHostApplicationBuilder AddOptimizer(this IHostApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(OptimizerOptions.SectionName).Get<OptimizerOptions>() ?? new OptimizerOptions();
        var errors = new ValidationErrors();
        options.Validate(errors);
        if (!errors.IsEmpty) throw new InvalidConfigurationException(errors);

        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(options);
        services.TryAddSingleton<OptimizerMetrics>();
        services.TryAddSingleton<FeedbackStore>();
        services.TryAddSingleton<QualityRouter>();
        services.AddSingleton<IAutoRouter>(static sp => sp.GetRequiredService<QualityRouter>());
        services.AddSingleton<IGatewayInterceptor, RouteOutcomeInterceptor>();
        return builder;
    }

    public static IEndpointRouteBuilder MapOptimizerApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/feedback", FeedbackApi.PostAsync)
            .WithName("CreateFeedback")
            .WithTags("Optimizer")
            .WithSummary("Scores a gateway call (0..1 or a label) by its x-request-id; one feedback per call, a second one replaces it.")
            .Accepts<FeedbackRequest>("application/json")
            .Produces<FeedbackDto>(StatusCodes.Status201Created)
            .Produces<FeedbackDto>(StatusCodes.Status200OK)
            .Produces(StatusCodes.Status400BadRequest)
            .Produces(StatusCodes.Status404NotFound)
            .RequireAuthorization(Policies.Authenticated);

        var api = app.MapGroup("/api/v1").WithTags("Optimizer");
        api.MapGet("/feedback", FeedbackApi.ListAsync)
            .WithName("ListFeedback")
            .WithSummary("Lists feedback newest first (admins: all; API keys: their own calls; members: their teams').")
            .RequireAuthorization(Policies.Authenticated);
        return app;
    }
}
