using LlmMarketplace.Access.Storage;

namespace LlmMarketplace.Access.Tests.Metering;

/// <summary>
/// A batch of usage records is written in one transaction (one INSERT of arrays on PostgreSQL, one prepared INSERT run
/// per record on SQLite), on each storage: a record whose id is
/// already stored (delivered twice) is skipped, the others of its batch are written, and every field arrives as sent.
/// </summary>
public sealed class UsageBatchTests
{
    [Theory]
    [OnEachStorage]
    public async Task A_batch_with_record_ids_already_stored_writes_the_others_once(string provider)
    {
        await using var db = await TestStorage.CreateAsync(provider);
        await using var host = await GatewayHost.StartAsync(Config("http://127.0.0.1:9/v1"), db.Overrides);
        var store = host.Service<AccessStore>();
        var keyId = "key-" + Guid.NewGuid().ToString("N");

        await store.InsertUsageBatchAsync([Row(keyId, 0), Row(keyId, 1)], CancellationToken.None);
        // Records 0 and 1 again (already in the table), record 2 twice in the same batch, records 3..4 new, and one
        // record with no id (written before record ids existed: never a conflict).
        var noId = Row(keyId, 5);
        noId.RecordId = null;
        await store.InsertUsageBatchAsync([Row(keyId, 2), Row(keyId, 0), Row(keyId, 3), Row(keyId, 2), Row(keyId, 1), Row(keyId, 4), noId], CancellationToken.None);

        var records = await UsageOfKeyAsync(host, keyId);
        Assert.Equal(["req-0", "req-1", "req-2", "req-3", "req-4", "req-5"], records.Select(static r => r.GetProperty("requestId").GetString()!).Order(StringComparer.Ordinal).ToArray());

        var third = records.Single(static r => r.GetProperty("requestId").GetString() == "req-3");
        Assert.Equal("chat.completions", third.GetProperty("operation").GetString());
        Assert.Equal("gpt-4o-mini", third.GetProperty("model").GetString());
        Assert.Equal("upstream", third.GetProperty("provider").GetString());
        Assert.Equal(JsonValueKind.Null, third.GetProperty("userId").ValueKind);
        Assert.Equal(103, third.GetProperty("promptTokens").GetInt64());
        Assert.Equal(7, third.GetProperty("completionTokens").GetInt64());
        Assert.Equal(0.000123456789m, third.GetProperty("costUsd").GetDecimal());
        Assert.Equal(12.5, third.GetProperty("latencyMs").GetDouble());
        Assert.Equal(3.25, third.GetProperty("timeToFirstTokenMs").GetDouble());
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_790_000_000_003), third.GetProperty("time").GetDateTimeOffset());
        var second = records.Single(static r => r.GetProperty("requestId").GetString() == "req-2");
        Assert.Equal(JsonValueKind.Null, second.GetProperty("timeToFirstTokenMs").ValueKind);
        Assert.Equal(200, third.GetProperty("status").GetInt32());
        Assert.True(third.GetProperty("stream").GetBoolean());
    }

    [Theory]
    [OnEachStorage]
    public async Task A_large_batch_with_a_repeated_record_is_written_whole_once(string provider)
    {
        await using var db = await TestStorage.CreateAsync(provider);
        await using var host = await GatewayHost.StartAsync(Config("http://127.0.0.1:9/v1"), db.Overrides);
        var store = host.Service<AccessStore>();
        var keyId = "key-" + Guid.NewGuid().ToString("N");
        var count = 2_017;

        // An early record again at the end, far from its first copy in the same transaction.
        var rows = Enumerable.Range(0, count).Select(i => Row(keyId, i)).Append(Row(keyId, 999)).ToArray();
        await store.InsertUsageBatchAsync(rows, CancellationToken.None);

        var ids = (await UsageOfKeyAsync(host, keyId)).Select(static r => r.GetProperty("requestId").GetString()!).ToArray();
        Assert.Equal(count, ids.Length);
        Assert.Equal(count, ids.Distinct().Count());
    }

    internal static UsageRow Row(string keyId, int i) => new()
    {
        RequestId = $"req-{i}",
        AtMs = 1_790_000_000_000 + i,
        Operation = "chat.completions",
        KeyId = keyId,
        TeamId = "team-batch",
        Model = "gpt-4o-mini",
        Provider = "upstream",
        Deployment = "gpt-4o-mini/upstream",
        PromptTokens = 100 + i,
        CompletionTokens = 7,
        CostUsd = 0.000123456789m,
        LatencyMs = 12.5,
        TtftMs = i % 2 == 1 ? 3.25 : null,
        Status = 200,
        Cache = "none",
        Stream = 1,
        RecordId = keyId + "-" + i,
    };
}
