using LlmMarketplace.BuildingBlocks.Distributed;
using LlmMarketplace.BuildingBlocks.Http;
using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.Governance.Contracts;
using LlmMarketplace.Insights.Alerts;
using LlmMarketplace.Insights.Analytics;
using LlmMarketplace.Insights.Events;
using LlmMarketplace.Insights.Sla;
using Microsoft.Extensions.DependencyInjection.Extensions;
using LlmMarketplace.Catalog.Contracts;

namespace LlmMarketplace.Insights;

/// <summary>Registers and maps Insights: analytics, SLA tracking, alerts and events out.</summary>
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
        if (options.ServiceLevelWindow < TimeSpan.FromMinutes(1)) errors.Add("Insights:ServiceLevelWindow", "Set a window of at least a minute, e.g. 30.00:00:00.");
        if (options.ServiceLevelRefresh < TimeSpan.Zero) errors.Add("Insights:ServiceLevelRefresh", "Set a non-negative interval, e.g. 00:00:30.");
        if (options.StatementCloseInterval <= TimeSpan.Zero) errors.Add("Insights:StatementCloseInterval", "Set a positive interval, e.g. 00:05:00.");
        if (options.DayRetention < TimeSpan.Zero) errors.Add("Insights:DayRetention", "Set zero (for ever) or a positive interval.");
        var alertOptions = builder.Configuration.GetSection(AlertOptions.SectionName).Get<AlertOptions>() ?? new AlertOptions();
        if (alertOptions.ErrorRateThreshold is <= 0 or >= 1) errors.Add("Insights:Alerts:ErrorRateThreshold", "Set a fraction in (0, 1), e.g. 0.05.");
        if (alertOptions.ErrorRateWindow < TimeSpan.FromMinutes(1)) errors.Add("Insights:Alerts:ErrorRateWindow", "Set a window of at least a minute, e.g. 00:05:00.");
        if (alertOptions.LatencyFactor <= 1) errors.Add("Insights:Alerts:LatencyFactor", "Set a factor above 1, e.g. 2.");
        if (alertOptions.CostFactor <= 1) errors.Add("Insights:Alerts:CostFactor", "Set a factor above 1, e.g. 2.");
        if (alertOptions.BaselineAlpha is <= 0 or > 1) errors.Add("Insights:Alerts:BaselineAlpha", "Set a weight in (0, 1], e.g. 0.2.");
        if (alertOptions.EvaluationInterval <= TimeSpan.Zero) errors.Add("Insights:Alerts:EvaluationInterval", "Set a positive interval, e.g. 00:00:10.");
        foreach (var scope in alertOptions.Scopes.Keys)
        {
            if (!(scope.StartsWith("deployment:", StringComparison.Ordinal) || scope.StartsWith("model:", StringComparison.Ordinal) || scope.StartsWith("provider:", StringComparison.Ordinal)))
                errors.Add($"Insights:Alerts:Scopes:{scope}", "Name a scope deployment:ID, model:NAME or provider:NAME.");
        }
        var webhookOptions = builder.Configuration.GetSection(WebhookOptions.SectionName).Get<WebhookOptions>() ?? new WebhookOptions();
        if (webhookOptions.MaxAttempts < 1) errors.Add("Insights:Webhooks:MaxAttempts", "Set a positive number of attempts, e.g. 8.");
        if (webhookOptions.RetryBaseDelay <= TimeSpan.Zero) errors.Add("Insights:Webhooks:RetryBaseDelay", "Set a positive delay, e.g. 00:00:02.");
        if (webhookOptions.Timeout <= TimeSpan.Zero) errors.Add("Insights:Webhooks:Timeout", "Set a positive timeout, e.g. 00:00:10.");
        if (webhookOptions.PollInterval <= TimeSpan.Zero) errors.Add("Insights:Webhooks:PollInterval", "Set a positive interval, e.g. 00:00:01.");
        var eventsOptions = builder.Configuration.GetSection(EventsOptions.SectionName).Get<EventsOptions>() ?? new EventsOptions();
        if (eventsOptions.BatchSize is < 1 or > 10_000) errors.Add("Insights:Events:BatchSize", "Set a batch size between 1 and 10000, e.g. 100.");
        if (eventsOptions.BatchDelay < TimeSpan.Zero) errors.Add("Insights:Events:BatchDelay", "Set a non-negative delay, e.g. 00:00:05.");
        var otlp = eventsOptions.OtlpEndpoint ?? builder.Configuration["Telemetry:OtlpEndpoint"];
        if (!string.IsNullOrWhiteSpace(otlp) && !Uri.TryCreate(otlp, UriKind.Absolute, out _)) errors.Add("Insights:Events:OtlpEndpoint", "Set an absolute URL, e.g. http://127.0.0.1:4317.");
        if (eventsOptions.ToRedisStream && string.IsNullOrWhiteSpace(builder.Configuration["Redis:Configuration"]))
        {
            errors.Add(eventsOptions.RedisStreamEnabled ? "Insights:Events:RedisStreamEnabled" : "Insights:Events:RedisStream",
                "Events go to a Redis stream only on a Redis: set Redis:Configuration, or turn the stream off.");
        }
        if (eventsOptions.RedisMaxLength < 1) errors.Add("Insights:Events:RedisMaxLength", "Set a positive length, e.g. 1000000.");
        if (!errors.IsEmpty) throw new InvalidConfigurationException(errors);

        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(options);
        services.TryAddSingleton<InsightsMetrics>();
        services.TryAddSingleton<MarketplaceMetrics>();
        services.AddSingleton<Gateway.Pipeline.IGatewayInterceptor, MetricsInterceptor>();
        services.TryAddSingleton<InsightsStore>();
        services.TryAddSingleton<AnalyticsQuery>();
        services.TryAddSingleton(alertOptions);
        services.TryAddSingleton(webhookOptions);
        services.TryAddSingleton(eventsOptions);
        services.TryAddSingleton<EventLog>();
        services.TryAddSingleton<WebhookOutbox>();
        services.TryAddSingleton<WebhookDispatcher>();
        services.AddHostedService(static sp => sp.GetRequiredService<WebhookDispatcher>());
        services.TryAddSingleton<EventsOutWorker>();
        services.AddHostedService(static sp => sp.GetRequiredService<EventsOutWorker>());
        if (eventsOptions.ToRedisStream && builder.Configuration["Redis:Configuration"] is { Length: > 0 })
        {
            services.AddSingleton<IEventSink>(static sp => new RedisStreamSink(sp.GetRequiredService<RedisConnection>(), sp.GetRequiredService<EventsOptions>()));
        }
        if (!string.IsNullOrWhiteSpace(otlp)) services.AddSingleton<IEventSink>(_ => new OtlpLogSink(otlp));
        services.AddSingleton<IAuditObserver, DomainEvents>();
        services.TryAddSingleton<AlertService>();
        services.TryAddSingleton<IncidentDetectors>();
        services.AddSingleton<IUsageObserver>(static sp => sp.GetRequiredService<IncidentDetectors>());
        services.AddHostedService(static sp => sp.GetRequiredService<IncidentDetectors>());
        services.TryAddSingleton<SlaTracker>();
        services.AddSingleton<IUsageObserver>(static sp => sp.GetRequiredService<SlaTracker>());
        services.TryAddSingleton<ServiceLevelReader>();
        services.TryAddSingleton<IServiceLevelReader>(static sp => sp.GetRequiredService<ServiceLevelReader>());
        services.TryAddSingleton<IListingUsageReader, ListingUsageReader>();
        services.TryAddSingleton<RollupWorker>();
        services.AddHostedService(static sp => sp.GetRequiredService<RollupWorker>());
        services.TryAddSingleton<Statements.StatementCloser>();
        services.AddHostedService(static sp => sp.GetRequiredService<Statements.StatementCloser>());
        return builder;
    }

    /// <summary>Maps the Insights endpoints.</summary>
    public static IEndpointRouteBuilder MapInsightsApi(this IEndpointRouteBuilder endpoints)
    {
        var analytics = endpoints.MapGroup("/api/v1/analytics").RequireAuthorization(Policies.Authenticated).WithTags("Analytics")
            .RequireManagementRateLimit(ManagementLimit.Analytics);
        analytics.MapGet("/timeseries", AnalyticsApi.TimeseriesAsync).WithName("GetAnalyticsTimeseries").WithQuery(AnalyticsApi.TimeseriesQuery)
            .WithSummary("Usage, cost, errors and latency percentiles per minute, hour or day, optionally per group (top N); JSON or CSV.");
        analytics.MapGet("/breakdown", AnalyticsApi.BreakdownAsync).WithName("GetAnalyticsBreakdown").WithQuery(AnalyticsApi.BreakdownQuery)
            .WithSummary("The top N teams, apps, keys, models, listings, deployments or providers over a range; JSON or CSV.");
        analytics.MapGet("/summary", AnalyticsApi.SummaryAsync).WithName("GetAnalyticsSummary").WithQuery(AnalyticsApi.SummaryQuery)
            .WithSummary("Totals and percentiles over a range; JSON or CSV.");
        analytics.MapGet("/publisher/listings", PublisherAnalyticsApi.ListingsAsync).WithName("ListPublisherListings").WithQuery(PublisherAnalyticsApi.ListingsQuery)
            .WithSummary("The listings the caller's teams publish (admins and viewers: all), with their usage over a range (default 30 days).");
        analytics.MapGet("/publisher", PublisherAnalyticsApi.ListingAsync).WithName("GetPublisherAnalytics").WithQuery(PublisherAnalyticsApi.ListingQuery)
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("A listing's usage by every consuming team, for the team that publishes it: totals, a zero-filled series, consuming teams and the measured service level per bucket. Never the content of calls.");

        var sla = endpoints.MapGroup("/api/v1/sla").RequireAuthorization(Policies.Authenticated).WithTags("SLA");
        sla.MapGet("", SlaApi.StatusAsync).WithName("GetSlaStatus")
            .WithSummary("Each listing version's p95 latency and uptime per deployment over the SLA window, against its targets.");
        sla.MapGet("/violations", SlaApi.ViolationsAsync).WithName("ListSlaViolations")
            .WithSummary("Recorded SLA violations, newest first (open=true: only those still open).");

        var alerts = endpoints.MapGroup("/api/v1/alerts").WithTags("Alerts");
        alerts.MapGet("", AlertsApi.ListAsync).WithName("ListAlerts").RequireAuthorization(Policies.Viewer)
            .WithSummary("Alerts newest first; state=firing|acknowledged|resolved|open, type, group.");
        alerts.MapGet("/{id}", AlertsApi.GetAsync).WithName("GetAlert").RequireAuthorization(Policies.Viewer).WithSummary("One alert.");
        alerts.MapPost("/{id}/acknowledge", AlertsApi.AcknowledgeAsync).WithName("AcknowledgeAlert").RequireAuthorization(Policies.Admin)
            .WithSummary("Marks a firing alert acknowledged (audited).");
        alerts.MapPost("/{id}/resolve", AlertsApi.ResolveAsync).WithName("ResolveAlert").RequireAuthorization(Policies.Admin)
            .WithSummary("Resolves an alert by hand (audited).");
        alerts.MapPost("/webhooks", AlertsApi.CreateWebhookAsync).WithName("CreateWebhook").Produces<CreatedWebhook>(StatusCodes.Status201Created).RequireAuthorization(Policies.Admin).Accepts<CreateWebhookRequest>("application/json")
            .WithSummary("Subscribes a URL to alerts and/or events; the signing secret is in the response once.");
        alerts.MapGet("/webhooks", AlertsApi.ListWebhooksAsync).WithName("ListWebhooks").RequireAuthorization(Policies.Admin).WithSummary("Webhook subscriptions (never their secrets).");
        alerts.MapDelete("/webhooks/{id}", AlertsApi.DeleteWebhookAsync).WithName("DeleteWebhook").Produces(StatusCodes.Status204NoContent).RequireAuthorization(Policies.Admin)
            .WithSummary("Removes a webhook and cancels its pending deliveries (audited).");
        alerts.MapGet("/webhooks/{id}/deliveries", AlertsApi.DeliveriesAsync).WithName("ListWebhookDeliveries").RequireAuthorization(Policies.Admin)
            .WithSummary("The delivery log of a webhook: attempts, last status and error, newest first.");
        return endpoints;
    }
}
