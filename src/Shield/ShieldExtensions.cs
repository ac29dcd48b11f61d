using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Shield.Configuration;
using LlmMarketplace.Shield.Detection;
using LlmMarketplace.Shield.Inline;
using LlmMarketplace.Shield.Scan;
using LlmMarketplace.Shield.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmMarketplace.Shield;

/// <summary>Registers and maps the shield: personal data, secrets, prompt injection and jailbreak detection, inline and on demand.</summary>
public static class ShieldExtensions
{
    public const string MeterName = ShieldMetrics.MeterName;

    /// <summary>Reads and validates the <c>Shield</c> section (throwing <see cref="InvalidConfigurationException"/> with every error) and registers the module.</summary>
    public static IHostApplicationBuilder AddShield(this IHostApplicationBuilder builder)
    {
        var errors = new ValidationErrors();
        var settings = ShieldSettings.Read(builder.Configuration, errors);
        if (!errors.IsEmpty)
        {
            throw new InvalidConfigurationException(errors);
        }

        var services = builder.Services;
        services.TryAddSingleton(settings);
        services.TryAddSingleton(sp =>
        {
            var scanner = ShieldScanner.CreateDefault();
            if (settings.InjectionThreshold is { } threshold) scanner.Model.Threshold = threshold;
            Log.Loaded(sp.GetRequiredService<ILoggerFactory>().CreateLogger("LlmMarketplace.Shield"), scanner.Model.Threshold, settings.Scopes.Count);
            return scanner;
        });
        services.TryAddSingleton<ShieldMetrics>();
        services.TryAddSingleton<ConfigShieldModeResolver>();
        services.TryAddSingleton<IShieldModeResolver, PolicyShieldModeResolver>();
        services.AddSingleton<IGatewayInterceptor, ShieldInterceptor>();
        return builder;
    }

    public static IEndpointRouteBuilder MapShieldApi(this IEndpointRouteBuilder app)
    {
        var shield = app.MapGroup("/api/v1/shield").RequireAuthorization(Policies.Authenticated).WithTags("Shield");
        shield.MapPost("/scan", ScanApi.ScanAsync)
            .WithName("ShieldScan")
            .WithSummary("Scans a text for prompt injection, jailbreaks, personal data and secrets; returns the findings (character offsets), a verdict and a redacted copy.")
            .Accepts<ScanRequestDto>("application/json")
            .ProducesValidationProblem();
        return app;
    }
}

/// <summary>The body of <c>POST /api/v1/shield/scan</c>.</summary>
public sealed record ScanRequestDto(string Text);
