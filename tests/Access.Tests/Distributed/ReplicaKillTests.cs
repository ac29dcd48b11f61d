using System.Collections.Concurrent;
using LlmMarketplace.Access.Metering;

namespace LlmMarketplace.Access.Tests.Distributed;

/// <summary>
/// Three real replica processes on one PostgreSQL and Redis under concurrent load. The database goes down, one replica
/// is killed with SIGKILL while it holds usage on its disk, the others carry on; when the database is back and the
/// killed replica restarts, every answered call has exactly one usage record.
/// </summary>
public sealed class ReplicaKillTests
{
    [Theory]
    [InlineData(false)] // usage written by each replica: during the outage it goes to the replica's spool file
    [InlineData(true)]  // usage through the Redis stream: it waits there, the killed replica's unwritten entries are claimed by the others
    public async Task A_replica_killed_during_a_database_outage_loses_no_usage_and_the_others_carry_on(bool usageStream)
    {
        await using var postgres = await PostgresServer.StartAsync();
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        var dir = TestPaths.NewDirectory();
        var config = Path.Combine(dir, "config.yaml");
        await File.WriteAllTextAsync(config, Config(upstream.BaseUrl + "/v1"));
        var masterKey = "mk-" + Guid.NewGuid().ToString("N");
        var rootKey = Path.Combine(dir, "root.key");
        await File.WriteAllTextAsync(rootKey, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
        var environment = new Dictionary<string, string>
        {
            ["LLMM__Storage__Provider"] = "postgres",
            ["LLMM__Storage__ConnectionString"] = postgres.ConnectionString,
            ["LLMM__Redis__Configuration"] = DistributedKit.Redis,
            ["LLMM__Redis__KeyPrefix"] = "t" + Guid.NewGuid().ToString("N")[..12] + ":",
            ["LLMM__Access__SpoolRetryInterval"] = "00:00:00.200",
            ["LLMM__Access__UsageStream"] = usageStream ? "true" : "false",
            ["LLMM__Access__UsageStreamClaimAfter"] = "00:00:02",
            // One root key for the three, as an installation's replicas need (each data directory would make its own).
            ["LLMM__Security__EncryptionKey"] = "file:" + rootKey,
        };
        var replicas = Enumerable.Range(0, 3).Select(i => new ReplicaProcess(config, Path.Combine(dir, $"data{i}"), masterKey, environment)).ToArray();
        try
        {
            await replicas[0].StartAsync();
            await Task.WhenAll(replicas.Skip(1).Select(static r => r.StartAsync()));
            using var admin = new HttpClient { BaseAddress = replicas[0].BaseAddress };
            admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", masterKey);
            var key = await PostJsonAsync(admin, "api/v1/keys", new { name = "under-load" });
            var keyId = key.GetProperty("id").GetString()!;
            var secret = key.GetProperty("key").GetString()!;
            var clients = replicas.Select(r =>
            {
                var c = new HttpClient { BaseAddress = r.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
                c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
                return c;
            }).ToArray();
            await ReplicaTests.UntilAllAsync(clients, HttpStatusCode.OK, TimeSpan.FromSeconds(5), "the key to reach every replica");

            var answered = new ConcurrentDictionary<string, int>();
            var killed = 0;
            using var stop = new CancellationTokenSource();
            var workers = Enumerable.Range(0, 6).Select(w => Task.Run(async () =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    var replica = (w + i) % clients.Length;
                    if (replica == 1 && Volatile.Read(ref killed) == 1) continue;
                    var id = $"load-{w}-{i}";
                    try
                    {
                        using var response = await ChatAsync(clients[replica], requestId: id);
                        if (response.StatusCode == HttpStatusCode.OK) answered[id] = replica;
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
                    {
                        // the killed replica's connections
                    }
                }
            })).ToArray();

            await Wait.UntilAsync(() => answered.Count >= 30, TimeSpan.FromSeconds(60), "30 answered calls before the outage");
            await postgres.StopAsync();
            var atOutage = answered.Count;
            await Wait.UntilAsync(() => answered.Values.Count(static r => r == 1) >= 15 && answered.Count >= atOutage + 45, TimeSpan.FromSeconds(60),
                "calls answered by every replica during the outage");
            // The spool is renamed while a delivery is tried, so the usage is in one file or the other.
            bool SpoolOnDisk() => File.Exists(Path.Combine(replicas[1].DataDirectory, UsageSpool.FileName))
                || File.Exists(Path.Combine(replicas[1].DataDirectory, UsageSpool.DeliveringFileName));
            Assert.True(usageStream || SpoolOnDisk(), "replica 1 keeps the usage of the outage on its disk");
            await replicas[1].KillAsync();
            Volatile.Write(ref killed, 1);
            var atKill = answered.Count;
            // The others carry on, the database still down.
            await Wait.UntilAsync(() => answered.Count >= atKill + 30, TimeSpan.FromSeconds(60), "the other replicas to keep answering");

            await postgres.StartAgainAsync();
            await Wait.UntilAsync(() => answered.Count >= atKill + 60, TimeSpan.FromSeconds(60), "calls after the database returned");
            await stop.CancelAsync();
            await Task.WhenAll(workers);
            Assert.True(usageStream || SpoolOnDisk(), "the killed replica's usage is still on its disk until it restarts");

            await replicas[1].StartAsync();
            JsonElementSet records = default;
            await Wait.UntilAsync(async () =>
            {
                records = new JsonElementSet((await UsageOfKeyAsync(admin, keyId)).Select(static r => r.GetProperty("requestId").GetString()!).ToArray());
                return answered.Keys.All(records.Ids.Contains);
            }, TimeSpan.FromSeconds(60), "every answered call's usage, including the killed replica's, to reach the database");

            // Every answered call exactly once, and no record twice (calls cut by the kill may have one record, never two).
            var load = records.All.Where(static id => id.StartsWith("load-", StringComparison.Ordinal)).ToArray();
            Assert.Equal(load.Length, load.Distinct().Count());
            Assert.All(answered.Keys, id => Assert.Contains(id, records.Ids));
            foreach (var c in clients) c.Dispose();
        }
        finally
        {
            foreach (var r in replicas) await r.DisposeAsync();
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }

    private readonly record struct JsonElementSet(string[] All)
    {
        public HashSet<string> Ids { get; } = [.. All];
    }

    private static async Task<JsonElement[]> UsageOfKeyAsync(HttpClient admin, string keyId)
    {
        var page = await GetJsonAsync(admin, $"api/v1/usage?keyId={keyId}&limit=10000");
        return page.GetProperty("data").EnumerateArray().ToArray();
    }
}
