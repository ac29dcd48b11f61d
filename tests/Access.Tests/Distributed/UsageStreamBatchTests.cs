using LlmMarketplace.Access.Metering;
using LlmMarketplace.Access.Storage;
using LlmMarketplace.Access.Tests.Metering;
using StackExchange.Redis;

namespace LlmMarketplace.Access.Tests.Distributed;

/// <summary>
/// Usage records appended to the real usage stream (Redis) reach PostgreSQL through two replicas' consumers in batches:
/// each record exactly once, including records already stored (a re-delivery after a replica died) and records appended
/// twice, and an entry that holds no usage record is acknowledged instead of holding up the stream.
/// </summary>
public sealed class UsageStreamBatchTests
{
    [Fact]
    public async Task Records_from_the_stream_are_stored_once_each_and_a_poison_entry_does_not_block_the_others()
    {
        await using var shared = await DistributedKit.CreateSharedAsync();
        var replicas = await DistributedKit.StartReplicasAsync(2, Config("http://127.0.0.1:9/v1"), shared, new Dictionary<string, string?>
        {
            ["Access:MaxBatchSize"] = "200",
        });
        try
        {
            var keyId = "key-" + Guid.NewGuid().ToString("N");
            const int count = 1500;
            // Some records are in the table already: a replica wrote them and died before acknowledging.
            await replicas[0].Service<AccessStore>().InsertUsageBatchAsync(
                Enumerable.Range(0, count).Where(static i => i % 7 == 0).Select(i => UsageBatchTests.Row(keyId, i)).ToArray(), CancellationToken.None);

            var stream = replicas[0].Service<UsageStream>();
            var db = stream.Redis.Database;
            var entries = new List<NameValueEntry[]>();
            for (var i = 0; i < count; i++)
            {
                entries.Add([new("r", JsonSerializer.Serialize(UsageBatchTests.Row(keyId, i), UsageSpoolJson.Default.UsageRow))]);
                if (i == 400) entries.Add([new("r", "{\"RequestId\": \"cut short")]);     // not JSON
                if (i == 800) entries.Add([new("r", "{\"RecordId\":\"x\",\"Model\":null}")]); // JSON, but not a record that can be stored
                if (i == 900) entries.Add([new("other", "field")]);                       // no record at all
                if (i % 11 == 0) entries.Add([new("r", JsonSerializer.Serialize(UsageBatchTests.Row(keyId, i / 2), UsageSpoolJson.Default.UsageRow))]); // appended twice
            }
            await Task.WhenAll(entries.Select(e => db.StreamAddAsync(stream.Key, e)));

            var stored = Array.Empty<string>();
            await Wait.UntilAsync(async () =>
            {
                stored = (await UsageOfKeyAsync(replicas[1], keyId)).Select(static r => r.GetProperty("requestId").GetString()!).ToArray();
                return stored.Length >= count;
            }, TimeSpan.FromSeconds(60), "every record of the stream in GET /api/v1/usage");
            // Nothing left behind: every entry, the poison ones too, acknowledged and deleted.
            await Wait.UntilAsync(async () => await db.StreamLengthAsync(stream.Key) == 0 && (await db.StreamPendingAsync(stream.Key, UsageStream.Group)).PendingMessageCount == 0,
                TimeSpan.FromSeconds(30), "the usage stream to be empty with nothing pending");

            stored = (await UsageOfKeyAsync(replicas[1], keyId)).Select(static r => r.GetProperty("requestId").GetString()!).ToArray();
            Assert.Equal(count, stored.Length);
            Assert.Equal(Enumerable.Range(0, count).Select(static i => $"req-{i}").Order(StringComparer.Ordinal), stored.Order(StringComparer.Ordinal));
        }
        finally
        {
            foreach (var r in replicas) await r.DisposeAsync();
        }
    }
}
