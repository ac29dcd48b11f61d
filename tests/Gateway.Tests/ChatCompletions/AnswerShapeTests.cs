using LlmMarketplace.Gateway.Tests.Resilience;

namespace LlmMarketplace.Gateway.Tests.ChatCompletions;

/// <summary>
/// What a new user found wrong in chat answers: <c>created</c> and <c>choices[].index</c> are always there, <c>model</c>
/// is the model the client asked for (not the upstream's id), and an open circuit says when to come back in seconds.
/// </summary>
public sealed class AnswerShapeTests
{
    /// <summary>An upstream that leaves out <c>created</c> and the choices' <c>index</c>, and names its own model.</summary>
    private static Task Sparse(Microsoft.AspNetCore.Http.HttpContext ctx, int _)
    {
        if (FakeUpstream.WantsStream(ctx))
        {
            return FakeUpstream.Sse(ctx,
            [
                """data: {"id":"c1","object":"chat.completion.chunk","model":"upstream-model-2025","choices":[{"delta":{"role":"assistant","content":"he"},"finish_reason":null}]}""",
                """data: {"id":"c1","object":"chat.completion.chunk","model":"upstream-model-2025","choices":[{"delta":{"content":"llo"},"finish_reason":"stop"}]}""",
                """data: {"id":"c1","object":"chat.completion.chunk","model":"upstream-model-2025","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}""",
                "data: [DONE]",
            ]);
        }
        return FakeUpstream.Json(ctx, """{"id":"c1","object":"chat.completion","model":"upstream-model-2025","choices":[{"message":{"role":"assistant","content":"a"},"finish_reason":"stop"},{"message":{"role":"assistant","content":"b"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}""");
    }

    [Fact]
    public async Task A_completion_has_created_every_choice_index_and_the_model_the_client_asked_for()
    {
        await using var upstream = await FakeUpstream.StartAsync(Sparse);
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1", upstreamModel: "upstream-model-2025"));
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        using var response = await Upstream.PostAsync(host, """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"n":2}""");
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = JsonDocument.Parse(text).RootElement;
        Assert.Equal("gpt-4o-mini", json.GetProperty("model").GetString());
        Assert.InRange(json.GetProperty("created").GetInt64(), before, before + 60);
        Assert.Equal([0, 1], json.GetProperty("choices").EnumerateArray().Select(static c => c.GetProperty("index").GetInt32()).ToArray());
        Assert.Equal("b", json.GetProperty("choices")[1].GetProperty("message").GetProperty("content").GetString());
        // The upstream was asked for its own model id.
        Assert.Equal("upstream-model-2025", upstream.Requests.Single().Json.GetProperty("model").GetString());
    }

    [Fact]
    public async Task Every_streamed_chunk_has_created_and_the_model_the_client_asked_for()
    {
        await using var upstream = await FakeUpstream.StartAsync(Sparse);
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1", upstreamModel: "upstream-model-2025"));

        using var response = await Upstream.PostAsync(host, """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(static e => e.Trim()).Where(static e => e.StartsWith("data: ", StringComparison.Ordinal)).Select(static e => e[6..]).ToList();
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events.SkipLast(1).Select(static e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.Equal(3, chunks.Count);
        var created = chunks[0].GetProperty("created").GetInt64();
        Assert.True(created > 1_700_000_000);
        foreach (var chunk in chunks)
        {
            Assert.Equal("gpt-4o-mini", chunk.GetProperty("model").GetString());
            Assert.Equal(created, chunk.GetProperty("created").GetInt64());
            foreach (var choice in chunk.GetProperty("choices").EnumerateArray()) Assert.Equal(0, choice.GetProperty("index").GetInt32());
        }
        Assert.Equal("hello", string.Concat(chunks.SelectMany(static c => c.GetProperty("choices").EnumerateArray())
            .Select(static c => c.GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : "")));
        Assert.Equal(5, chunks[^1].GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task An_open_circuit_answers_retry_after_the_time_until_the_next_probe()
    {
        await using var a = await FakeUpstream.StartAsync(Upstream.Fail(500));
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl)], gateway: """
            CircuitBreaker:
              FailureThreshold: 2
              BreakDurationSeconds: 3
              HalfOpenProbes: 1
            """));
        using (var failed = await Upstream.PostAsync(host, Upstream.ChatBody))
        {
            Assert.Equal(HttpStatusCode.BadGateway, failed.StatusCode);
        }
        Assert.Equal("open", await Upstream.CircuitAsync(host, "a/up-a"));

        using var response = await Upstream.PostAsync(host, Upstream.ChatBody);
        await Upstream.AssertEnvelopeAsync(response, 503, "api_error", "no_healthy_deployment");
        var seconds = int.Parse(Upstream.Header(response, "retry-after"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(seconds, 1, 3);
    }
}
