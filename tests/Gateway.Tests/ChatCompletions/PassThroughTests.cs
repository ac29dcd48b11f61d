using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Gateway.Tests.ChatCompletions;

/// <summary>What the gateway sends upstream and what it adds: unknown fields kept, model rewritten, usage requested, headers set.</summary>
public sealed class PassThroughTests : UpstreamHostTests
{
    private const string UsageChunk = """data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}""";

    protected override async Task AnswerAsync(HttpContext ctx, int _)
    {
        if (ctx.Request.Path.Value!.EndsWith("/embeddings", StringComparison.Ordinal))
        {
            await FakeUpstream.Json(ctx, """{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,0.25]}],"model":"e","usage":{"prompt_tokens":3,"total_tokens":3}}""");
            return;
        }
        // The fake decides streaming from what the gateway forwarded.
        if (FakeUpstream.WantsStream(ctx))
        {
            await FakeUpstream.Sse(ctx,
            [
                """data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}""",
                """data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}""",
                UsageChunk,
                "data: [DONE]",
            ]);
            return;
        }
        await FakeUpstream.Json(ctx, """{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":2000,"total_tokens":3000,"prompt_tokens_details":{"cached_tokens":400}}}""");
    }

    protected override string HostConfig(string upstreamBaseUrl) => Configs.OpenAI(upstreamBaseUrl + "/v1", upstreamModel: "upstream-model-id");

    private async Task<HttpResponseMessage> Chat(string body, bool stream = false, string? requestId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (requestId is not null) request.Headers.Add("x-request-id", requestId);
        return await Host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    [Fact]
    public async Task Unknown_fields_pass_through_and_the_model_is_rewritten()
    {
        using var response = await Chat("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"seed":42,"logprobs":true,"top_logprobs":2,"n":2,"stop":["END"],"response_format":{"type":"json_object"},"custom_vendor_field":{"a":[1,2]},"provider":{"only":["upstream"]}}""");
        response.EnsureSuccessStatusCode();

        var sent = Assert.Single(Upstream.Requests).Json;
        Assert.Equal("upstream-model-id", sent.GetProperty("model").GetString());
        Assert.Equal(42, sent.GetProperty("seed").GetInt32());
        Assert.True(sent.GetProperty("logprobs").GetBoolean());
        Assert.Equal(2, sent.GetProperty("n").GetInt32());
        Assert.Equal("END", sent.GetProperty("stop")[0].GetString());
        Assert.Equal("json_object", sent.GetProperty("response_format").GetProperty("type").GetString());
        Assert.Equal(2, sent.GetProperty("custom_vendor_field").GetProperty("a")[1].GetInt32());
        Assert.False(sent.TryGetProperty("provider", out _), "the gateway's routing extension must not reach the upstream");
        Assert.False(sent.TryGetProperty("stream_options", out _));
    }

    [Fact]
    public async Task Gateway_headers_and_cost_are_set()
    {
        using var response = await Chat("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", requestId: "my-trace-123");
        response.EnsureSuccessStatusCode();

        Assert.Equal("my-trace-123", response.Headers.GetValues("x-request-id").Single());
        Assert.Equal("upstream", response.Headers.GetValues("x-gateway-provider").Single());
        Assert.Equal("upstream/upstream-model-id", response.Headers.GetValues("x-gateway-deployment").Single());
        Assert.Equal("1", response.Headers.GetValues("x-gateway-attempts").Single());
        Assert.Equal("BYPASS", response.Headers.GetValues("x-cache").Single());
        Assert.StartsWith("gateway;dur=", response.Headers.GetValues("server-timing").Single(), StringComparison.Ordinal);
        // 600 uncached input at 0.15, 400 cached at 0.075, 2000 output at 0.60 per 1M tokens.
        var expected = ((600 * 0.15m) + (400 * 0.075m) + (2000 * 0.60m)) / 1_000_000m;
        Assert.Equal(expected, decimal.Parse(response.Headers.GetValues("x-gateway-cost").Single(), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task A_request_id_is_generated_when_absent_or_unsafe()
    {
        using var response = await Chat("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", requestId: "bad id with spaces");
        var id = response.Headers.GetValues("x-request-id").Single();
        Assert.StartsWith("req_", id, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Streaming_asks_upstream_for_usage_but_forwards_it_only_when_the_client_asked()
    {
        using var without = await Chat("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}""", stream: true);
        var textWithout = await without.Content.ReadAsStringAsync();
        using var with = await Chat("""{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}""", stream: true);
        var textWith = await with.Content.ReadAsStringAsync();

        Assert.Equal("text/event-stream", without.Content.Headers.ContentType?.MediaType);
        foreach (var sent in Upstream.Requests)
        {
            Assert.True(sent.Json.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        }
        Assert.DoesNotContain("\"usage\"", textWithout, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", textWithout, StringComparison.Ordinal);
        // The usage chunk is forwarded with the call's cost added as an extension: (7 × 0.15 + 2 × 0.60) per 1M tokens.
        // The model is the one the client asked for, not the upstream's.
        Assert.Contains(AsClientSees(UsageChunk).Replace("\"total_tokens\":9}", "\"total_tokens\":9,\"cost\":0.00000225}", StringComparison.Ordinal) + "\n\n", textWith, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", textWith, StringComparison.Ordinal);
        // Chunks are forwarded with every field as the upstream sent it, but the model the client asked for.
        Assert.Contains("""data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}""" + "\n\n", textWithout, StringComparison.Ordinal);
    }

    private static string AsClientSees(string chunk) => chunk.Replace("\"model\":\"up\"", "\"model\":\"gpt-4o-mini\"", StringComparison.Ordinal);

    [Fact]
    public async Task Embeddings_forward_input_and_encoding_format()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/embeddings") { Content = new StringContent("""{"model":"text-embedding-3-small","input":["a","b"],"encoding_format":"float","dimensions":2}""", Encoding.UTF8, "application/json") };
        using var response = await Host.Client.SendAsync(request);
        response.EnsureSuccessStatusCode();

        var sent = Assert.Single(Upstream.Requests).Json;
        Assert.Equal("text-embedding-3-small", sent.GetProperty("model").GetString());
        Assert.Equal(2, sent.GetProperty("input").GetArrayLength());
        Assert.Equal(2, sent.GetProperty("dimensions").GetInt32());
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(3, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }
}
