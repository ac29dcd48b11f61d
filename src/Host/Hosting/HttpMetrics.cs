using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Routing;

namespace LlmMarketplace.Host.Hosting;

/// <summary>
/// Every HTTP request the host answers, whatever module serves it, counted and timed by method, route template (bounded,
/// not the path) and status: <c>marketplace_api_requests_total</c>, <c>marketplace_api_duration_seconds</c>, and
/// <c>marketplace_search_duration_seconds</c> for catalog search and autocomplete. Meter <c>LlmMarketplace.Host</c>.
/// </summary>
internal sealed class HttpMetrics
{
    public const string MeterName = "LlmMarketplace.Host";

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _search;

    public HttpMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>("marketplace.api.requests", "{request}", "HTTP requests handled, by method, route and status code.");
        _duration = meter.CreateHistogram<double>("marketplace.api.duration", "s", "Time to answer an HTTP request, by method, route and status code.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });
        _search = meter.CreateHistogram<double>("marketplace.search.duration", "s", "Time to answer a catalog search or autocomplete.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] });
    }

    public void Request(string method, string route, int status, double seconds)
    {
        var tags = new TagList { { "http.request.method", method }, { "http.route", route }, { "http.response.status_code", status } };
        _requests.Add(1, tags);
        _duration.Record(seconds, tags);
        if (route is "/api/v1/search" or "/api/v1/autocomplete") _search.Record(seconds, new TagList { { "http.route", route } });
    }
}

public static class HttpMetricsExtensions
{
    /// <summary>Counts and times every request from here on, labelled by the route template the request matched.</summary>
    public static IApplicationBuilder UseHttpMetrics(this IApplicationBuilder app)
    {
        var metrics = app.ApplicationServices.GetRequiredService<HttpMetrics>();
        return app.Use(async (context, next) =>
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await next(context);
            }
            finally
            {
                var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText is { } raw ? "/" + raw.TrimStart('/') : "unmatched";
                metrics.Request(context.Request.Method, route, context.Response.StatusCode, Stopwatch.GetElapsedTime(started).TotalSeconds);
            }
        });
    }
}
