using LlmMarketplace.BuildingBlocks.Distributed;
using LlmMarketplace.BuildingBlocks.Http;
using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Optimizer.Experiments;
using LlmMarketplace.Optimizer.Feedback;
using LlmMarketplace.Optimizer.Routing;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmMarketplace.Optimizer;

/// <summary>Registers and maps the optimizer: feedback, the auto-router, experiments.</summary>
public static class OptimizerExtensions
{
    public static IHostApplicationBuilder AddOptimizer(this IHostApplicationBuilder builder)
    {
        var options = builder.Configuration.ReadValidated<OptimizerOptions>(OptimizerOptions.SectionName, static (o, errors) => o.Validate(errors));

        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(options);
        services.TryAddSingleton<OptimizerMetrics>();
        services.TryAddSingleton<FeedbackStore>();
        services.TryAddSingleton<QualityRouter>();
        services.AddSingleton<IAutoRouter>(static sp => sp.GetRequiredService<QualityRouter>());
        services.TryAddSingleton<RouterStateLog>();
        // What the router learned (here and on other replicas) is folded in at start and every Optimizer:Router:RefreshInterval.
        services.AddSnapshotRefresh(new SnapshotRefresh("the auto-router's learned state", null, options.Router.RefreshInterval,
            static (sp, ct) => sp.GetRequiredService<RouterStateLog>().FoldAsync(ct)));
        services.AddSingleton<IGatewayInterceptor, RouteOutcomeInterceptor>();
        services.TryAddSingleton<ExperimentStore>();
        services.TryAddSingleton<ExperimentDirectory>();
        services.TryAddSingleton<ExperimentCallWriter>();
        services.AddHostedService(static sp => sp.GetRequiredService<ExperimentCallWriter>());
        // Loaded at start, reloaded every Optimizer:Experiments:RefreshInterval; a failed reload is logged and keeps the last experiments.
        services.AddSnapshotRefresh(new SnapshotRefresh("the experiments", null, options.Experiments.RefreshInterval,
            static (sp, ct) => sp.GetRequiredService<ExperimentDirectory>().RefreshAsync(ct)));
        services.AddSingleton<IGatewayInterceptor, ExperimentInterceptor>();
        return builder;
    }

    public static IEndpointRouteBuilder MapOptimizerApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/feedback", FeedbackApi.PostAsync)
            .WithName("CreateFeedback")
            .WithRequestDoor("comment")
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
            .WithQuery(
                new QueryParameter("limit", QueryType.Integer, "Page size (default 100)."), new QueryParameter("offset", QueryType.Integer, "Rows to skip."),
                new QueryParameter("from", QueryType.DateTime), new QueryParameter("to", QueryType.DateTime),
                new QueryParameter("requestId"), new QueryParameter("model"), new QueryParameter("deployment"), new QueryParameter("keyId"),
                new QueryParameter("teamId"), new QueryParameter("team", Description: "Alias of teamId."))
            .WithSummary("Lists feedback newest first (admins: all; API keys: their own calls; members: their teams').")
            .RequireAuthorization(Policies.Authenticated);

        api.MapPost("/experiments", ExperimentsApi.CreateAsync)
            .WithName("CreateExperiment")
            .WithSummary("Starts an experiment on a model alias: 2 to 5 variants (deployment and/or parameters) with fixed or Thompson-sampled shares, sticky per user.")
            .Accepts<CreateExperimentRequest>("application/json")
            .RequireAuthorization(Policies.Admin);
        api.MapGet("/experiments", ExperimentsApi.ListAsync)
            .WithName("ListExperiments")
            .WithSummary("Lists experiments, newest first.")
            .RequireAuthorization(Policies.Viewer);
        api.MapGet("/experiments/{id}", ExperimentsApi.GetAsync)
            .WithName("GetExperiment")
            .WithSummary("Reads one experiment with its current traffic shares.")
            .RequireAuthorization(Policies.Viewer);
        api.MapGet("/experiments/{id}/results", ExperimentsApi.ResultsAsync)
            .WithName("GetExperimentResults")
            .WithSummary("Per variant: feedback score, cost, latency and error rate with 95% confidence intervals, tested against the control.")
            .RequireAuthorization(Policies.Viewer);
        api.MapPost("/experiments/{id}/stop", ExperimentsApi.StopAsync)
            .WithName("StopExperiment")
            .WithSummary("Stops an experiment: its model's traffic goes back to normal routing.")
            .RequireAuthorization(Policies.Admin);
        api.MapPost("/experiments/{id}/promote", ExperimentsApi.PromoteAsync)
            .WithName("PromoteExperimentVariant")
            .WithSummary("Sends all of the model's traffic to one variant (the named one, else the best by mean feedback score).")
            .Accepts<PromoteRequest>("application/json")
            .RequireAuthorization(Policies.Admin);
        return app;
    }
}
