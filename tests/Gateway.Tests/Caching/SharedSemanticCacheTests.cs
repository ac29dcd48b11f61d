using LlmMarketplace.Gateway.Tests.Resilience;

namespace LlmMarketplace.Gateway.Tests.Caching;

/// <summary>The semantic cache of replicas sharing Redis (<c>LLMM_TEST_REDIS</c>): one replica's answer serves a paraphrase on another, and an invalidation holds for all.</summary>
public sealed class SharedSemanticCacheTests
{
    private static string Redis => TestRedis.Configuration;

    private static string Body(string question, bool stream = false) =>
        JsonSerializer.Serialize(new { model = "m", stream, messages = new[] { new { role = "user", content = question } } });

    [Fact]
    public async Task A_paraphrase_is_served_by_another_replica_and_an_invalidation_reaches_every_replica()
    {
        await using var upstream = await FakeUpstream.StartAsync(Upstream.Numbered);
        var shared = new Dictionary<string, string?> { ["Redis:Configuration"] = Redis, ["Redis:KeyPrefix"] = "t" + Guid.NewGuid().ToString("N")[..12] + ":" };
        await using var one = await GatewayHost.StartAsync(SemanticCacheTests.Config(upstream.BaseUrl), shared);
        await using var two = await GatewayHost.StartAsync(SemanticCacheTests.Config(upstream.BaseUrl), shared);

        using (var first = await Upstream.PostAsync(one, Body("What is the capital of France?")))
        {
            Assert.Equal("MISS", Upstream.Header(first, "x-cache"));
        }
        // The entry is written to Redis after the answer: wait until it is there, then ask the other replica.
        await using (var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(Redis))
        {
            var server = redis.GetServers()[0];
            await Wait.UntilAsync(() => server.Keys(pattern: shared["Redis:KeyPrefix"] + "semcache:*").Any(), TimeSpan.FromSeconds(20), "the semantic entry in Redis");
        }
        using (var paraphrase = await Upstream.PostAsync(two, Body("What's the capital of France?")))
        {
            Assert.Equal("SEMANTIC-HIT", Upstream.Header(paraphrase, "x-cache"));
            Assert.Equal("answer-0", await Upstream.ContentAsync(paraphrase));
        }
        Assert.Equal(1, upstream.Count);

        // Invalidated through one replica, gone on the other.
        using (var removed = await one.Client.DeleteAsync("api/v1/gateway/cache/semantic?model=m"))
        {
            Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
            Assert.True(JsonDocument.Parse(await removed.Content.ReadAsStringAsync()).RootElement.GetProperty("removed").GetInt64() >= 1);
        }
        var countBefore = upstream.Count;
        using var after = await Upstream.PostAsync(two, Body("Which city is the capital of France?"));
        Assert.Equal("MISS", Upstream.Header(after, "x-cache"));
        Assert.Equal(countBefore + 1, upstream.Count);
    }
}
