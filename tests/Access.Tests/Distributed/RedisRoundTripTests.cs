using System.Diagnostics;
using System.Globalization;
using StackExchange.Redis;

namespace LlmMarketplace.Access.Tests.Distributed;

/// <summary>
/// The shared counters of a call with an API key go to Redis together: every rate-limit bucket of the call in one
/// script (all or none), every budget at the same time, and after the call one script for the buckets' reconciliation
/// beside the budgets' settlement. Limits stay exact when concurrent calls race for a bucket two keys share, and the
/// commands one call sends are counted on a Redis of the test's own (<c>INFO commandstats</c>).
/// </summary>
public sealed class RedisRoundTripTests
{
    [Fact]
    public async Task A_team_limit_shared_by_two_keys_admits_exactly_its_limit_when_concurrent_calls_race_on_two_replicas()
    {
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        await using var shared = await DistributedKit.CreateSharedAsync();
        var replicas = await DistributedKit.StartReplicasAsync(2, Config(upstream.BaseUrl + "/v1"), shared);
        var clients = new List<HttpClient>();
        try
        {
            const int teamRpm = 6;
            const int callsPerKey = 20;
            var team = await PostJsonAsync(replicas[0].Client, "api/v1/teams", new { name = "racers-" + Guid.NewGuid().ToString("N")[..8], rpm = teamRpm });
            var teamId = team.GetProperty("id").GetString()!;
            // Each key alone could take four; together they could take eight, more than the team's six.
            var keys = new[]
            {
                await CreateKeyAsync(replicas[0], new { name = "racer-a", team = teamId, rpm = 4, tpm = 1_000_000, budgetUsd = 100.0, budgetPeriod = "monthly" }),
                await CreateKeyAsync(replicas[1], new { name = "racer-b", team = teamId, rpm = 4, tpm = 1_000_000, budgetUsd = 100.0, budgetPeriod = "monthly" }),
            };
            var perKey = keys.Select(k => replicas.Select(r => ClientWithKey(r, k.GetProperty("key").GetString()!)).ToArray()).ToArray();
            clients.AddRange(perKey.SelectMany(static c => c));
            foreach (var keyClients in perKey) await ReplicaTests.UntilAllAsync(keyClients, null, TimeSpan.FromSeconds(5), "the key to reach every replica");
            var probes = upstream.Count;

            var started = Stopwatch.StartNew();
            var statuses = await Task.WhenAll(Enumerable.Range(0, 2 * callsPerKey).Select(async i =>
            {
                // Alternating keys and replicas, all at once.
                using var response = await ChatAsync(perKey[i % 2][i / 2 % replicas.Length]);
                return response.StatusCode;
            }));
            var elapsed = started.Elapsed;
            Assert.All(statuses, static s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"unexpected {s}"));
            var admitted = statuses.Count(static s => s == HttpStatusCode.OK) + probes;
            Assert.Equal(admitted, upstream.Count);
            // Never more than the team's limit (plus what refills meanwhile), and never less: a call a key's own bucket
            // refuses takes nothing from the team's, so the team's six are all given out.
            var refill = (int)Math.Floor((elapsed.TotalSeconds + 5) * teamRpm / 60.0);
            Assert.InRange(admitted, teamRpm, teamRpm + refill);
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
            foreach (var replica in replicas) await replica.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_call_with_a_limited_and_budgeted_api_key_sends_four_scripts_and_one_usage_entry_to_redis()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        await using var shared = await DistributedKit.CreateSharedAsync(redis.Configuration);
        var replicas = await DistributedKit.StartReplicasAsync(1, Config(upstream.BaseUrl + "/v1"), shared);
        var host = replicas[0];
        await using var observer = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        var server = observer.GetServer(observer.GetEndPoints()[0]);
        try
        {
            var team = await PostJsonAsync(host.Client, "api/v1/teams", new { name = "counted-" + Guid.NewGuid().ToString("N")[..8], rpm = 100_000, tpm = 100_000_000 });
            var key = await CreateKeyAsync(host, new { name = "counted", team = team.GetProperty("id").GetString(), rpm = 100_000, tpm = 100_000_000, budgetUsd = 100.0, budgetPeriod = "monthly" });
            using var client = ClientWithKey(host, key.GetProperty("key").GetString()!);
            // The first call loads the scripts into Redis; the next ones use them.
            await Wait.UntilAsync(async () =>
            {
                using var response = await ChatAsync(client);
                return response.StatusCode == HttpStatusCode.OK;
            }, TimeSpan.FromSeconds(10), "the new key to work");

            const int calls = 10;
            var before = await CommandsAsync(server);
            for (var i = 0; i < calls; i++)
            {
                using var response = await ChatAsync(client);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
            // The settlement after a call and the usage append may follow its answer: wait for them, then count exactly.
            var after = await SettledAsync(server, before, 4 * calls, calls);

            // Two buckets (key, team) and one budget: the buckets taken in one script and the budget reserved in another,
            // sent together; after the call the buckets reconciled in one script beside the budget's settlement.
            // One by one it was six: a script per bucket before and after, one per budget before and after.
            Assert.Equal(4 * calls, after.Scripts - before.Scripts);
            Assert.Equal(calls, after.StreamAdds - before.StreamAdds);

            // The master key has no limits or budgets: its calls only append their usage.
            before = await CommandsAsync(server);
            for (var i = 0; i < calls; i++)
            {
                using var response = await ChatAsync(host.Client);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
            after = await SettledAsync(server, before, 0, calls);
            Assert.Equal(0, after.Scripts - before.Scripts);
            Assert.Equal(calls, after.StreamAdds - before.StreamAdds);
        }
        finally
        {
            foreach (var replica in replicas) await replica.DisposeAsync();
        }
    }

    /// <summary>The counts once at least the expected scripts and appends have run since <paramref name="before"/>.</summary>
    private static Task<(long Scripts, long StreamAdds)> SettledAsync(IServer server, (long Scripts, long StreamAdds) before, long scripts, long appends) =>
        Wait.UntilAsync(() => CommandsAsync(server), now => now.Scripts - before.Scripts >= scripts && now.StreamAdds - before.StreamAdds >= appends,
            TimeSpan.FromSeconds(10), $"{scripts} scripts and {appends} usage appends to reach Redis");

    /// <summary>How many scripts (EVAL, EVALSHA) and stream appends (XADD) the Redis has run.</summary>
    private static async Task<(long Scripts, long StreamAdds)> CommandsAsync(IServer server)
    {
        var info = await server.InfoRawAsync("commandstats") ?? "";
        long Calls(string command)
        {
            foreach (var line in info.Split('\n'))
            {
                var prefix = "cmdstat_" + command + ":calls=";
                if (!line.StartsWith(prefix, StringComparison.Ordinal)) continue;
                var rest = line.AsSpan(prefix.Length);
                var comma = rest.IndexOf(',');
                return long.Parse(comma < 0 ? rest.Trim() : rest[..comma], CultureInfo.InvariantCulture);
            }
            return 0;
        }
        return (Calls("eval") + Calls("evalsha"), Calls("xadd"));
    }
}
