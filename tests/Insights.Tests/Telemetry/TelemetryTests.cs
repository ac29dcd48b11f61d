using System.Collections.Concurrent;
using System.Diagnostics;

namespace LlmMarketplace.Insights.Tests.Telemetry;

/// <summary>Operator metrics under their Prometheus names, and one trace per gateway call with a span per step.</summary>
public sealed class TelemetryTests
{
    [Fact]
    public async Task Prometheus_exposes_the_marketplace_metrics_beside_the_GenAI_ones()
    {
        await using var upstream = await UpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"));
        await ChatAsync(host.Client);
        using (var search = await host.Client.GetAsync(new Uri("api/v1/search?q=chat", UriKind.Relative))) search.EnsureSuccessStatusCode();

        var text = "";
        await Wait.UntilAsync(() => (text = host.Client.GetStringAsync(new Uri("metrics", UriKind.Relative)).Result).Contains("marketplace_search_duration_seconds_bucket", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "the search duration in /metrics");
        var lines = text.Split('\n');
        Assert.Contains(lines, static l => l.StartsWith("marketplace_api_requests_total{", StringComparison.Ordinal) && l.Contains("http_route=\"/v1/chat/completions\"", StringComparison.Ordinal));
        Assert.Contains(lines, static l => l.StartsWith("marketplace_api_duration_seconds_bucket{", StringComparison.Ordinal) && l.Contains("http_route=\"/api/v1/search\"", StringComparison.Ordinal));
        Assert.Contains(lines, static l => l.StartsWith("marketplace_tokens_consumed_total{", StringComparison.Ordinal) && l.Contains("gen_ai_token_type=\"input\"", StringComparison.Ordinal) && l.Contains("gen_ai_request_model=\"gpt-4o-mini\"", StringComparison.Ordinal));
        Assert.Contains(lines, static l => l.StartsWith("marketplace_cost_usd_total{", StringComparison.Ordinal));
        Assert.Contains(lines, static l => l.StartsWith("gen_ai_client_token_usage", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_gateway_call_is_one_trace_with_spans_for_auth_policy_shield_cache_routing_and_the_upstream_attempt()
    {
        var traceId = ActivityTraceId.CreateRandom();
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = static s => s.Name.StartsWith("LlmMarketplace", StringComparison.Ordinal) || s.Name == "Microsoft.AspNetCore",
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                if (a.TraceId == traceId) spans.Enqueue(a);
            },
        };
        ActivitySource.AddActivityListener(listener);
        await using var upstream = await UpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1", extra: """
            Gateway:
              Cache:
                Enabled: true
            """));
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"trace me"}]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        using var response = await host.Client.SendAsync(request);
        response.EnsureSuccessStatusCode();

        await Wait.UntilAsync(() => spans.Any(static s => s.OperationName == "gateway.upstream_attempt") && spans.Any(static s => s.Kind == ActivityKind.Server),
            TimeSpan.FromSeconds(10), "the call's spans");
        var names = spans.Select(static s => s.OperationName).ToList();
        foreach (var expected in new[] { "gateway.auth", "gateway.policy", "gateway.shield", "gateway.cache", "gateway.routing", "gateway.upstream_attempt" })
        {
            Assert.Contains(expected, names);
        }
        Assert.All(spans, s => Assert.Equal(traceId, s.TraceId));
    }
}
