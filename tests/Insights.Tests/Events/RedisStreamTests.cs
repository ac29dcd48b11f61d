using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Insights.Events;
using StackExchange.Redis;

namespace LlmMarketplace.Insights.Tests.Events;

/// <summary>Events out to a real Redis stream when it is turned on (and only then) on a configured Redis.</summary>
public sealed class RedisStreamTests
{
    [Fact]
    public async Task Usage_records_are_added_to_the_stream_with_their_event_ids()
    {
        var redis = TestRedis.Configuration;
        var stream = "llmm:test:" + Guid.NewGuid().ToString("N");
        await using var upstream = await UpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), new Dictionary<string, string?>
        {
            ["Redis:Configuration"] = redis,
            ["Insights:Events:RedisStream"] = stream,
            ["Insights:Events:BatchDelay"] = "00:00:00.100",
        });
        for (var i = 0; i < 7; i++) await ChatAsync(host.Client);
        // With Redis, usage records reach the database through the usage stream a moment after the calls.
        var usage = await UsageAsync(host);
        await Wait.UntilAsync(() => (usage = UsageAsync(host).GetAwaiter().GetResult()).Count == 7, TimeSpan.FromSeconds(30), "the seven usage records");

        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis);
        var db = connection.GetDatabase();
        StreamEntry[] entries = [];
        // The stream carries every event; the platform's listings of the configured models are published at start too.
        await Wait.UntilAsync(() => (entries = db.StreamRange(stream).Where(static e => (string)e["type"]! == "usage.recorded").ToArray()).Length >= usage.Count, TimeSpan.FromSeconds(30), "the usage events in the stream");
        var ids = entries.Select(static e => (string)e["id"]!).ToList();
        Assert.Equal(usage.Count, ids.Count);
        Assert.Equal(usage.Count, ids.Distinct().Count());
        Assert.All(ids, static id => Assert.StartsWith("evt_usage_", id, StringComparison.Ordinal));
        // Each entry carries the whole envelope, the one the log stored, with the entry's id and the record's request.
        var requests = usage.Select(static u => u.GetProperty("requestId").GetString()).ToHashSet();
        Assert.All(entries, e =>
        {
            using var envelope = JsonDocument.Parse((string)e["event"]!);
            Assert.Equal((string)e["id"]!, envelope.RootElement.GetProperty("id").GetString());
            Assert.Equal("usage.recorded", envelope.RootElement.GetProperty("type").GetString());
            Assert.Equal(1, envelope.RootElement.GetProperty("version").GetInt32());
            Assert.Contains(envelope.RootElement.GetProperty("data").GetProperty("requestId").GetString(), requests);
        });
        await db.KeyDeleteAsync(stream);
    }

    [Fact]
    public async Task Unnamed_the_stream_lives_under_the_installations_key_prefix()
    {
        var redis = TestRedis.Configuration;
        var prefix = "llmm-test-" + Guid.NewGuid().ToString("N")[..12] + ":";
        await using var upstream = await UpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), new Dictionary<string, string?>
        {
            ["Redis:Configuration"] = redis,
            ["Redis:KeyPrefix"] = prefix,
            ["Insights:Events:RedisStreamEnabled"] = "true",
            ["Insights:Events:BatchDelay"] = "00:00:00.100",
        });
        for (var i = 0; i < 3; i++) await ChatAsync(host.Client);

        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis);
        var db = connection.GetDatabase();
        var stream = prefix + "events";
        StreamEntry[] entries = [];
        await Wait.UntilAsync(() => (entries = db.StreamRange(stream).Where(static e => (string)e["type"]! == "usage.recorded").ToArray()).Length >= 3,
            TimeSpan.FromSeconds(30), "the usage events in the stream under the prefix");
        Assert.Equal(3, entries.Length);
        await db.KeyDeleteAsync(stream);
    }

    [Fact]
    public async Task Off_by_default_a_Redis_gets_no_events_stream_even_while_a_webhook_gets_the_events()
    {
        var redis = TestRedis.Configuration;
        var prefix = "llmm-test-" + Guid.NewGuid().ToString("N")[..12] + ":";
        const string secret = "test-secret-0123456789abcdef";
        await using var receiver = await WebhookReceiver.StartAsync(secret, failFirst: 0);
        await using var upstream = await UpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), new Dictionary<string, string?>
        {
            ["Redis:Configuration"] = redis,
            ["Redis:KeyPrefix"] = prefix,
            ["Insights:Events:BatchDelay"] = "00:00:00.100",
            ["Insights:Webhooks:PollInterval"] = "00:00:00.050",
            ["Insights:Webhooks:AllowLoopback"] = "true", // the receiver listens on loopback
        });
        await PostJsonAsync(host.Client, "api/v1/alerts/webhooks", new { url = receiver.Url, kinds = new[] { "events" }, secret });
        for (var i = 0; i < 3; i++) await ChatAsync(host.Client);
        await Wait.UntilAsync(() => receiver.Events.Count(static e => e.GetProperty("type").GetString() == "usage.recorded") == 3,
            TimeSpan.FromSeconds(30), "the usage events at the webhook");

        // The events were logged and are due: one more pass hands them to every sink there is, and none is a Redis stream.
        await host.Service<EventsOutWorker>().RunOnceAsync(CancellationToken.None);
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis);
        Assert.False(await connection.GetDatabase().KeyExistsAsync(prefix + "events"));
        Assert.Empty(receiver.Rejected);
    }

    [Theory]
    [InlineData("Insights:Events:RedisStreamEnabled", "true")]
    [InlineData("Insights:Events:RedisStream", "events-out")]
    public async Task A_stream_asked_for_without_a_Redis_is_a_configuration_error(string key, string value)
    {
        var error = await Assert.ThrowsAsync<InvalidConfigurationException>(() =>
            GatewayHost.StartAsync(Configs.OpenAI("http://127.0.0.1:9/v1"), new Dictionary<string, string?> { [key] = value }));
        Assert.Contains(key, error.Errors.ToDictionary().Keys);
    }
}
