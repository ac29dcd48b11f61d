using LlmMarketplace.Access.Metering;

namespace LlmMarketplace.Access.Tests.Distributed;

/// <summary>PostgreSQL really stopped and started again under a running gateway: known keys keep working, usage waits on local disk and arrives once.</summary>
public sealed class PostgresFaultTests
{
    [Fact]
    public async Task While_PostgreSQL_is_down_known_keys_work_and_usage_is_kept_on_disk_then_delivered_once()
    {
        await using var postgres = await PostgresServer.StartAsync();
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl + "/v1"), new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "postgres",
            ["Storage:ConnectionString"] = postgres.ConnectionString,
            ["Access:SpoolRetryInterval"] = "00:00:00.200",
            ["Access:RefreshInterval"] = "00:00:00.500",
        });
        var key = await CreateKeyAsync(host, new { name = "outage" });
        var keyId = key.GetProperty("id").GetString()!;
        using var client = ClientWithKey(host, key.GetProperty("key").GetString()!);
        for (var i = 0; i < 3; i++)
        {
            using var before = await ChatAsync(client, requestId: $"before-{i}");
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        await postgres.StopAsync();
        var spool = host.Service<UsageSpool>();
        var statuses = await Task.WhenAll(Enumerable.Range(0, 12).Select(async i =>
        {
            using var during = await ChatAsync(client, requestId: $"during-{i}");
            return during.StatusCode;
        }));
        // The key is known from memory: every call is served although the database is gone.
        Assert.All(statuses, static s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.True(spool.HasPending, "the usage of the calls made during the outage is on local disk");
        using (var ready = await host.Client.GetAsync("health/ready"))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            Assert.Equal("Degraded", await ready.Content.ReadAsStringAsync());
        }

        await postgres.StartAgainAsync();
        await Wait.UntilAsync(() => !spool.HasPending, TimeSpan.FromSeconds(30), "the spooled usage to be delivered");
        var records = await UsageOfKeyAsync(host, keyId);
        var ids = records.Select(static r => r.GetProperty("requestId").GetString()!).ToArray();
        Assert.Equal(15, ids.Length);
        Assert.Equal(15, ids.Distinct().Count());
        Assert.Equal(12, ids.Count(static id => id.StartsWith("during-", StringComparison.Ordinal)));
        Assert.All(records, static r => Assert.Equal(200, r.GetProperty("status").GetInt32()));
    }

    [Theory]
    [OnEachStorage]
    public async Task A_spooled_batch_delivered_twice_is_stored_once(string provider)
    {
        await using var db = await TestStorage.CreateAsync(provider);
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl + "/v1"), db.Overrides.Where(static o => o.Key != "Storage:DataDirectory").ToDictionary());
        var spool = host.Service<UsageSpool>();
        var keyId = "key_spool_" + Guid.NewGuid().ToString("N");
        var rows = Enumerable.Range(0, 5).Select(i => new Storage.UsageRow
        {
            RecordId = Guid.CreateVersion7().ToString("N"),
            RequestId = $"spooled-{i}",
            AtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Operation = "chat",
            KeyId = keyId,
            Model = "gpt-4o-mini",
            PromptTokens = 10,
            CompletionTokens = 5,
            CostUsd = 0.001m,
            Status = 200,
            Cache = "MISS",
        }).ToList();

        // As after a crash between inserting a delivered batch and deleting its file: the same records come again.
        // (The host's own delivery loop may deliver them before this test does; either way they arrive once.)
        spool.Append(rows);
        await spool.DeliverAsync(CancellationToken.None);
        Assert.False(spool.HasPending);
        Assert.Equal(5, (await UsageOfKeyAsync(host, keyId)).Length);
        spool.Append(rows);
        await spool.DeliverAsync(CancellationToken.None);
        Assert.False(spool.HasPending);

        var records = await UsageOfKeyAsync(host, keyId);
        Assert.Equal(5, records.Length);
        Assert.Equal(5, records.Select(static r => r.GetProperty("requestId").GetString()).Distinct().Count());
    }
}
