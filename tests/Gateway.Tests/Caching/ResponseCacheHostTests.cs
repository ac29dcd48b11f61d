using LlmMarketplace.Gateway.Tests.Resilience;

namespace LlmMarketplace.Gateway.Tests.Caching;

/// <summary>The exact-match response cache through the real host: hits, misses, per-request cache control and streamed replays.</summary>
public sealed class ResponseCacheHostTests : IAsyncLifetime
{
    private const string CacheOn = """
        Cache:
          Enabled: true
          MaxSizeMb: 1
          DefaultTtlSeconds: 60
        """;

    private FakeUpstream _upstream = null!;
    private GatewayHost _host = null!;

    public async Task InitializeAsync()
    {
        _upstream = await FakeUpstream.StartAsync(Upstream.Numbered);
        _host = await GatewayHost.StartAsync(Upstream.Config([("a", _upstream.BaseUrl)], gateway: CacheOn));
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private static string Body(string content, string extra = "") =>
        $$$"""{"model":"m","messages":[{"role":"user","content":"{{{content}}}"}]{{{extra}}}}""";

    private Task<HttpResponseMessage> PostAsync(string body, string? cacheControl = null) =>
        Upstream.PostAsync(_host, body, r =>
        {
            if (cacheControl is not null) r.Headers.TryAddWithoutValidation("Cache-Control", cacheControl);
        });

    [Fact]
    public async Task A_second_identical_request_is_a_hit_served_without_the_upstream()
    {
        using var first = await PostAsync(Body("what is a cache?"));
        using var second = await PostAsync(Body("what is a cache?"));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("MISS", Upstream.Header(first, "x-cache"));
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("HIT", Upstream.Header(second, "x-cache"));
        Assert.Equal("a/up-a", Upstream.Header(second, "x-gateway-deployment"));
        Assert.Equal(await first.Content.ReadAsStringAsync(), await second.Content.ReadAsStringAsync());
        Assert.Equal("answer-0", await Upstream.ContentAsync(second));
        Assert.Equal(1, _upstream.Count);
    }

    [Fact]
    public async Task Whitespace_and_key_order_differences_still_hit()
    {
        using var first = await PostAsync("""{"model":"m","messages":[{"role":"user","content":"hello   world"}],"temperature":0.5}""");
        using var second = await PostAsync("""
            {
              "temperature": 0.5,
              "messages": [ { "content": " hello\n\tworld ", "role": "user" } ],
              "model": "m"
            }
            """);

        Assert.Equal("MISS", Upstream.Header(first, "x-cache"));
        Assert.Equal("HIT", Upstream.Header(second, "x-cache"));
        Assert.Equal("answer-0", await Upstream.ContentAsync(second));
        Assert.Equal(1, _upstream.Count);
    }

    [Fact]
    public async Task A_different_temperature_is_a_miss()
    {
        using var first = await PostAsync(Body("same words", ""","temperature":0.2"""));
        using var second = await PostAsync(Body("same words", ""","temperature":0.9"""));

        Assert.Equal("MISS", Upstream.Header(first, "x-cache"));
        Assert.Equal("MISS", Upstream.Header(second, "x-cache"));
        Assert.Equal("answer-1", await Upstream.ContentAsync(second));
        Assert.Equal(2, _upstream.Count);
    }

    [Fact]
    public async Task Different_content_is_a_miss()
    {
        using var first = await PostAsync(Body("hello world"));
        using var second = await PostAsync(Body("helloworld"));

        Assert.Equal("MISS", Upstream.Header(second, "x-cache"));
        Assert.Equal(2, _upstream.Count);
    }

    [Fact]
    public async Task No_cache_skips_the_lookup_calls_the_upstream_and_refreshes_the_entry()
    {
        using var first = await PostAsync(Body("fresh please"));
        using var refreshed = await PostAsync(Body("fresh please"), "no-cache");
        using var third = await PostAsync(Body("fresh please"));

        Assert.Equal("MISS", Upstream.Header(refreshed, "x-cache"));
        Assert.Equal("answer-1", await Upstream.ContentAsync(refreshed));
        Assert.Equal("HIT", Upstream.Header(third, "x-cache"));
        Assert.Equal("answer-1", await Upstream.ContentAsync(third));
        Assert.Equal(2, _upstream.Count);
    }

    [Fact]
    public async Task No_store_bypasses_the_cache_both_ways()
    {
        using var cached = await PostAsync(Body("stored"));
        using var bypassed = await PostAsync(Body("stored"), "no-store");

        Assert.Equal("BYPASS", Upstream.Header(bypassed, "x-cache"));
        Assert.Equal("answer-1", await Upstream.ContentAsync(bypassed));
        Assert.Equal(2, _upstream.Count);

        // Nor is a no-store answer kept.
        using var unstored = await PostAsync(Body("never stored"), "no-store");
        using var after = await PostAsync(Body("never stored"));
        Assert.Equal("BYPASS", Upstream.Header(unstored, "x-cache"));
        Assert.Equal("MISS", Upstream.Header(after, "x-cache"));
        Assert.Equal(4, _upstream.Count);
    }

    [Fact]
    public async Task A_streamed_answer_is_replayed_as_the_same_stream()
    {
        var body = Body("stream me", ""","stream":true""");
        using var first = await PostAsync(body);
        var firstBytes = await first.Content.ReadAsByteArrayAsync();
        using var second = await PostAsync(body);
        var secondBytes = await second.Content.ReadAsByteArrayAsync();

        Assert.Equal("MISS", Upstream.Header(first, "x-cache"));
        Assert.Equal("HIT", Upstream.Header(second, "x-cache"));
        Assert.Equal("text/event-stream", second.Content.Headers.ContentType?.MediaType);
        Assert.Equal(firstBytes, secondBytes);
        var text = System.Text.Encoding.UTF8.GetString(secondBytes);
        Assert.Contains("streamed-0 ", text, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", text, StringComparison.Ordinal);
        Assert.Equal(1, _upstream.Count);
    }

    [Fact]
    public async Task A_stream_and_a_plain_request_do_not_share_an_entry()
    {
        using var streamed = await PostAsync(Body("either way", ""","stream":true"""));
        await streamed.Content.ReadAsByteArrayAsync();
        using var plain = await PostAsync(Body("either way"));

        Assert.Equal("MISS", Upstream.Header(plain, "x-cache"));
        Assert.Equal("application/json", plain.Content.Headers.ContentType?.MediaType);
        Assert.Equal(2, _upstream.Count);
    }

    [Fact]
    public async Task A_ttl_of_zero_is_not_stored()
    {
        using var first = await Upstream.PostAsync(_host, Body("short lived"), r => r.Headers.Add("x-gateway-cache-ttl", "0"));
        using var second = await PostAsync(Body("short lived"));

        Assert.Equal("BYPASS", Upstream.Header(first, "x-cache"));
        Assert.Equal("MISS", Upstream.Header(second, "x-cache"));
        Assert.Equal(2, _upstream.Count);
    }
}

/// <summary>Whether a model is cached: the global switch and the per-model override.</summary>
public sealed class CacheSwitchHostTests
{
    [Fact]
    public async Task A_model_can_opt_out_of_a_cache_that_is_on()
    {
        await using var upstream = await FakeUpstream.StartAsync(Upstream.Numbered);
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", upstream.BaseUrl)], gateway: "Cache:\n  Enabled: true", modelExtra: "Cache: false"));

        using var first = await Upstream.PostAsync(host, Upstream.ChatBody);
        using var second = await Upstream.PostAsync(host, Upstream.ChatBody);

        Assert.Equal("BYPASS", Upstream.Header(second, "x-cache"));
        Assert.Equal("answer-1", await Upstream.ContentAsync(second));
        Assert.Equal(2, upstream.Count);
    }

    [Fact]
    public async Task A_model_can_opt_in_to_a_cache_that_is_off()
    {
        await using var upstream = await FakeUpstream.StartAsync(Upstream.Numbered);
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", upstream.BaseUrl)], modelExtra: "Cache: true"));

        using var first = await Upstream.PostAsync(host, Upstream.ChatBody);
        using var second = await Upstream.PostAsync(host, Upstream.ChatBody);

        Assert.Equal("HIT", Upstream.Header(second, "x-cache"));
        Assert.Equal("answer-0", await Upstream.ContentAsync(second));
        Assert.Equal(1, upstream.Count);
    }

    [Fact]
    public async Task Errors_are_not_cached()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, n) => n == 0
            ? FakeUpstream.Json(ctx, Upstream.Error("bad", "invalid_request_error", "bad_request"), 400)
            : FakeUpstream.Json(ctx, Upstream.Completion($"answer-{n}")));
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", upstream.BaseUrl)], gateway: "Cache:\n  Enabled: true"));

        using var failed = await Upstream.PostAsync(host, Upstream.ChatBody);
        using var retried = await Upstream.PostAsync(host, Upstream.ChatBody);

        Assert.Equal(HttpStatusCode.BadRequest, failed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Equal("MISS", Upstream.Header(retried, "x-cache"));
        Assert.Equal(2, upstream.Count);
    }
}
