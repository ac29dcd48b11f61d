using LlmMarketplace.Insights.Optimizer;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;

namespace LlmMarketplace.Insights;

/// <summary>Registers and maps Insights: analytics, SLA tracking, alerts, events out and the optimizer.</summary>
public static class InsightsExtensions
{
    /// <summary>Reads and validates the Insights settings and registers the module's services.</summary>
    public static IHostApplicationBuilder AddInsights(this IHostApplicationBuilder builder)
    {
        builder.AddOptimizer();
        return builder;
    }

    /// <summary>Maps the Insights endpoints.</summary>
    public static IEndpointRouteBuilder MapInsightsApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapOptimizerApi();
        return endpoints;
    }
}
