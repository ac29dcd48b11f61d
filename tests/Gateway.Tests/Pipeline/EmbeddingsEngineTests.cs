using System.Collections.Concurrent;
using System.Diagnostics;
using LlmMarketplace.Gateway.Routing;

namespace LlmMarketplace.Gateway.Tests.Pipeline;

/// <summary>Embeddings run on the same engine as chat: spans, server-timing, headers and the alert-driven cache override.</summary>
public sealed class EmbeddingsEngineTests
{
    private const string Model = "text-embedding-3-small";

    private static Task<FakeUpstream> EmbeddingsUpstreamAsync() => FakeUpstream.StartAsync(static (ctx, n) => FakeUpstream.Json(ctx,
        "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[0." + (n + 1) + ",0.5]}],\"model\":\"e\",\"usage\":{\"prompt_tokens\":3,\"total_tokens\":3}}"));

    private static async Task<HttpResponseMessage> EmbedAsync(GatewayHost host, string input, string? traceparent = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/embeddings")
        {
            Content = new StringContent($$"""{"model":"{{Model}}","input":"{{input}}"}""", Encoding.UTF8, "application/json"),
        };
        if (traceparent is not null) request.Headers.Add("traceparent", traceparent);
        return await host.Client.SendAsync(request);
    }

    [Fact]
    public async Task An_embeddings_call_has_the_engines_spans_server_timing_and_gateway_headers()
    {
        var traceId = ActivityTraceId.CreateRandom();
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = static s => s.Name.StartsWith("LlmMarketplace", StringComparison.Ordinal),
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                if (a.TraceId == traceId) spans.Enqueue(a);
            },
        };
        ActivitySource.AddActivityListener(listener);
        await using var upstream = await EmbeddingsUpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"));

        using var response = await EmbedAsync(host, "trace me", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var timing = response.Headers.GetValues("server-timing").Single();
        Assert.Matches(@"^gateway;dur=[0-9.]+, upstream;dur=[0-9.]+$", timing);
        Assert.Equal("upstream", response.Headers.GetValues("x-gateway-provider").Single());
        Assert.Equal("1", response.Headers.GetValues("x-gateway-attempts").Single());
        await Wait.UntilAsync(() => spans.Any(static s => s.OperationName == "embeddings " + Model), TimeSpan.FromSeconds(10), "the embeddings span");
        var names = spans.Select(static s => s.OperationName).ToList();
        foreach (var expected in new[] { "gateway.auth", "gateway.limits", "gateway.routing", "gateway.upstream_attempt" })
        {
            Assert.Contains(expected, names);
        }
        var root = spans.Single(static s => s.OperationName == "embeddings " + Model);
        Assert.Equal("embeddings", root.GetTagItem("gen_ai.operation.name"));
        Assert.Equal(3, root.GetTagItem("gen_ai.usage.input_tokens") is long tokens ? tokens : -1);
    }

    [Fact]
    public async Task An_alerts_cache_override_turns_the_cache_on_for_embeddings()
    {
        await using var upstream = await EmbeddingsUpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"));

        using (var off = await EmbedAsync(host, "same text"))
        {
            Assert.Equal("BYPASS", off.Headers.GetValues("x-cache").Single());
        }
        host.Service<IGatewayControl>().SetCacheOverride(Model, true);
        using var miss = await EmbedAsync(host, "same text");
        using var hit = await EmbedAsync(host, "same text");

        Assert.Equal("MISS", miss.Headers.GetValues("x-cache").Single());
        Assert.Equal("HIT", hit.Headers.GetValues("x-cache").Single());
        Assert.Equal(await miss.Content.ReadAsStringAsync(), await hit.Content.ReadAsStringAsync());
        Assert.Equal(2, upstream.Count);
    }
}
