using System.Diagnostics;
using System.Diagnostics.Metrics;
using LlmMarketplace.Gateway.Pipeline;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace LlmMarketplace.Insights.Telemetry;

/// <summary>
/// The operator-facing <c>marketplace_*</c> metrics (Prometheus names; OpenTelemetry instrument names with dots):
/// every HTTP request by route and status, its duration, search duration, and tokens and cost consumed through the
/// gateway by model and provider. They sit beside the GenAI semantic-convention metrics the gateway records.
/// </summary>
internal sealed class MarketplaceMetrics
{
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _search;
    private readonly Counter<long> _tokens;
    private readonly Counter<double> _cost;
    private readonly Counter<long> _gatewayRequests;

    public MarketplaceMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(InsightsMetrics.MeterName);
        _requests = meter.CreateCounter<long>("marketplace.api.requests", "{request}", "HTTP requests handled, by method, route and status code.");
        _duration = meter.CreateHistogram<double>("marketplace.api.duration", "s", "Time to answer an HTTP request, by method, route and status code.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });
        _search = meter.CreateHistogram<double>("marketplace.search.duration", "s", "Time to answer a catalog search or autocomplete.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] });
        _tokens = meter.CreateCounter<long>("marketplace.tokens.consumed", "{token}", "Tokens consumed through the gateway, by model, provider and type (input, output).");
        _cost = meter.CreateCounter<double>("marketplace.cost.usd", "{USD}", "Cost in US dollars of the calls through the gateway, by model and provider.");
        _gatewayRequests = meter.CreateCounter<long>("marketplace.gateway.requests", "{request}", "Gateway calls by model, provider, status code and cache result.");
    }

    public void Request(string method, string route, int status, double seconds)
    {
        var tags = new TagList { { "http.request.method", method }, { "http.route", route }, { "http.response.status_code", status } };
        _requests.Add(1, tags);
        _duration.Record(seconds, tags);
        if (route is "/api/v1/search" or "/api/v1/autocomplete") _search.Record(seconds, new TagList { { "http.route", route } });
    }

    public void Call(GatewayCall call)
    {
        var provider = call.Provider ?? "none";
        var model = new KeyValuePair<string, object?>("gen_ai.request.model", call.Model);
        var providerTag = new KeyValuePair<string, object?>("gen_ai.provider.name", provider);
        if (call.Usage.PromptTokens > 0) _tokens.Add(call.Usage.PromptTokens, model, providerTag, new KeyValuePair<string, object?>("gen_ai.token.type", "input"));
        if (call.Usage.CompletionTokens > 0) _tokens.Add(call.Usage.CompletionTokens, model, providerTag, new KeyValuePair<string, object?>("gen_ai.token.type", "output"));
        if (call.CostUsd > 0) _cost.Add((double)call.CostUsd, model, providerTag);
        _gatewayRequests.Add(1, model, providerTag, new KeyValuePair<string, object?>("http.response.status_code", call.Status), new KeyValuePair<string, object?>("gateway.cache", call.CacheStatus));
    }
}

/// <summary>Counts and times every HTTP request, labelled by its route template (bounded), not its path.</summary>
internal sealed class ApiMetricsStartupFilter(MarketplaceMetrics metrics) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(async (context, nextMiddleware) =>
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await nextMiddleware(context);
            }
            finally
            {
                var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText is { } raw ? "/" + raw.TrimStart('/') : "unmatched";
                metrics.Request(context.Request.Method, route, context.Response.StatusCode, Stopwatch.GetElapsedTime(started).TotalSeconds);
            }
        });
        next(app);
    };
}

/// <summary>Records tokens, cost and outcome of every gateway call once it is known.</summary>
internal sealed class MetricsInterceptor(MarketplaceMetrics metrics) : IGatewayInterceptor
{
    public Gateway.Pipeline.GatewayStage Stage => Gateway.Pipeline.GatewayStage.Metering;

    public ValueTask<GatewayRejection?> BeforeAsync(GatewayCall call, CancellationToken cancellationToken) => ValueTask.FromResult<GatewayRejection?>(null);

    public ValueTask AfterAsync(GatewayCall call, CancellationToken cancellationToken)
    {
        metrics.Call(call);
        return ValueTask.CompletedTask;
    }
}
