using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Insights.Analytics;
using LlmMarketplace.Insights.Sla;
using LlmMarketplace.Insights.Storage;
using LlmMarketplace.Insights.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace LlmMarketplace.Insights;

/// <summary>Registers and maps Insights: analytics, SLA tracking, alerts, events out and the optimizer.</summary>
public static class InsightsExtensions
{
    /// <summary>The Insights meter's name, for the host's metrics pipeline.</summary>
    public const string MeterName = InsightsMetrics.MeterName;

    /// <summary>Reads and validates the Insights settings and registers the module's services.</summary>
    public static IHostApplicationBuilder AddInsights(this IHostApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(InsightsOptions.SectionName).Get<InsightsOptions>() ?? new InsightsOptions();
        var errors = new ValidationErrors();
        if (options.RollupInterval <= TimeSpan.Zero) errors.Add("Insights:RollupInterval", "Set a positive interval, e.g. 00:00:02.");
        if (options.RollupBatchSize < 1) errors.Add("Insights:RollupBatchSize", "Set a positive number of records, e.g. 5000.");
        if (options.GapTimeout < TimeSpan.Zero) errors.Add("Insights:GapTimeout", "Set a non-negative interval, e.g. 00:00:30.");
        if (options.MinuteRetention < TimeSpan.FromHours(1)) errors.Add("Insights:MinuteRetention", "Keep minute buckets at least an hour, e.g. 2.00:00:00.");
        if (options.HourRetention < TimeSpan.FromDays(1)) errors.Add("Insights:HourRetention", "Keep hour buckets at least a day, e.g. 90.00:00:00.");
        if (options.SlaWindow < TimeSpan.FromMinutes(1)) errors.Add("Insights:SlaWindow", "Set a window of at least a minute, e.g. 01:00:00.");
        if (options.SlaEvaluationInterval < TimeSpan.Zero) errors.Add("Insights:SlaEvaluationInterval", "Set a non-negative interval, e.g. 00:00:30.");
        if (options.SlaMinRequests < 1) errors.Add("Insights:SlaMinRequests", "Set a positive number of requests, e.g. 20.");
        if (options.DayRetention < TimeSpan.Zero) errors.Add("Insights:DayRetention", "Set zero (for ever) or a positive interval.");
        if (!errors.IsEmpty) throw new InvalidConfigurationException(errors);

        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(options);
        services.TryAddSingleton<InsightsMetrics>();
        services.TryAddSingleton<InsightsStore>();
        services.TryAddSingleton<AnalyticsQuery>();
        services.TryAddSingleton<SlaTracker>();
        services.AddSingleton<IUsageObserver>(static sp => sp.GetRequiredService<SlaTracker>());
        services.TryAddSingleton<RollupWorker>();
        services.AddHostedService(static sp => sp.GetRequiredService<RollupWorker>());
        return builder;
    }

    /// <summary>Maps the Insights endpoints.</summary>
    public static IEndpointRouteBuilder MapInsightsApi(this IEndpointRouteBuilder endpoints)
    {
        var analytics = endpoints.MapGroup("/api/v1/analytics").RequireAuthorization(Policies.Authenticated).WithTags("Analytics");
        analytics.MapGet("/timeseries", AnalyticsApi.TimeseriesAsync).WithName("GetAnalyticsTimeseries")
            .WithSummary("Usage, cost, errors and latency percentiles per minute, hour or day, optionally per group (top N); JSON or CSV.");
        analytics.MapGet("/breakdown", AnalyticsApi.BreakdownAsync).WithName("GetAnalyticsBreakdown")
            .WithSummary("The top N teams, apps, keys, models, listings, deployments or providers over a range; JSON or CSV.");
        analytics.MapGet("/summary", AnalyticsApi.SummaryAsync).WithName("GetAnalyticsSummary")
            .WithSummary("Totals and percentiles over a range; JSON or CSV.");

        var sla = endpoints.MapGroup("/api/v1/sla").RequireAuthorization(Policies.Authenticated).WithTags("SLA");
        sla.MapGet("", SlaApi.StatusAsync).WithName("GetSlaStatus")
            .WithSummary("Each listing version's p95 latency and uptime per deployment over the SLA window, against its targets.");
        sla.MapGet("/violations", SlaApi.ViolationsAsync).WithName("ListSlaViolations")
            .WithSummary("Recorded SLA violations, newest first (open=true: only those still open).");
        return endpoints;
    }
}
