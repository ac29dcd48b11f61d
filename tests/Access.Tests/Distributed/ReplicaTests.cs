using System.Diagnostics;

namespace LlmMarketplace.Access.Tests.Distributed;

/// <summary>
/// Three replicas on one machine (own ports and data directories, the same PostgreSQL and Redis) with concurrent clients
/// spread over them: a revoked key is refused by all within a second, limits and budgets hold across all of them, and
/// each call's usage is counted once.
/// </summary>
public sealed class ReplicaTests
{
    [Fact]
    public async Task A_key_created_on_one_replica_works_on_all_and_once_revoked_is_refused_by_all_within_one_second()
    {
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        await using var shared = await DistributedKit.CreateSharedAsync();
        var replicas = await DistributedKit.StartReplicasAsync(3, Config(upstream.BaseUrl + "/v1"), shared);
        try
        {
            // A first call on each replica, so that what is timed below is the key's spreading, not a cold start.
            foreach (var replica in replicas)
            {
                using var warm = await ChatAsync(replica.Client);
                Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
            }
            var key = await CreateKeyAsync(replicas[0], new { name = "everywhere" });
            var secret = key.GetProperty("key").GetString()!;
            var clients = replicas.Select(r => ClientWithKey(r, secret)).ToArray();
            // The periodic refresh is 10 minutes here: only the invalidation message can spread the key in time.
            await UntilAllAsync(clients, HttpStatusCode.OK, TimeSpan.FromSeconds(5), "the new key to work on every replica");

            var revoke = Stopwatch.StartNew();
            using (var response = await replicas[1].Client.DeleteAsync($"api/v1/keys/{key.GetProperty("id").GetString()}"))
            {
                Assert.True(response.IsSuccessStatusCode, $"revoke answered {(int)response.StatusCode}");
            }
            await UntilAllAsync(clients, HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(1) - revoke.Elapsed, "the revoked key to be refused by every replica");
            foreach (var client in clients)
            {
                using var refused = await ChatAsync(client);
                Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
                Assert.Equal("invalid_api_key", (await ErrorAsync(refused)).GetProperty("code").GetString());
                client.Dispose();
            }
        }
        finally
        {
            foreach (var replica in replicas) await replica.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_rate_limit_holds_across_three_replicas_and_each_call_is_counted_once()
    {
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        await using var shared = await DistributedKit.CreateSharedAsync();
        var replicas = await DistributedKit.StartReplicasAsync(3, Config(upstream.BaseUrl + "/v1"), shared);
        try
        {
            const int rpm = 12;
            const int calls = 60;
            var key = await CreateKeyAsync(replicas[2], new { name = "limited", rpm });
            var secret = key.GetProperty("key").GetString()!;
            var clients = replicas.Select(r => ClientWithKey(r, secret)).ToArray();
            await UntilAllAsync(clients, null, TimeSpan.FromSeconds(5), "the key to reach every replica");
            // The probe above took one request per replica from the bucket at most; count everything from here.
            var probes = upstream.Count;

            var started = Stopwatch.StartNew();
            var statuses = await Task.WhenAll(Enumerable.Range(0, calls).Select(async i =>
            {
                using var response = await ChatAsync(clients[i % clients.Length], requestId: $"dist-{i}");
                return response.StatusCode;
            }));
            var elapsed = started.Elapsed;
            var admitted = statuses.Count(static s => s == HttpStatusCode.OK);
            Assert.All(statuses, static s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"unexpected {s}"));
            // One bucket for all replicas: at most the limit (plus what refills while the calls run), not three times it.
            var refill = (int)Math.Floor((elapsed.TotalSeconds + 5) * rpm / 60.0);
            Assert.InRange(admitted + probes, 1, rpm + refill);
            Assert.True(admitted + probes < 2 * rpm, $"{admitted + probes} calls admitted with a limit of {rpm} per minute over three replicas");
            Assert.Equal(admitted + probes, upstream.Count);

            // Every call (admitted or refused) has exactly one usage record, whichever replica served it.
            // Usage goes through the usage stream: it reaches the database shortly after the calls.
            JsonElement[] ours = [];
            await Wait.UntilAsync(async () =>
            {
                var records = await UsageOfKeyAsync(replicas[1], key.GetProperty("id").GetString()!);
                ours = records.Where(static r => r.GetProperty("requestId").GetString()!.StartsWith("dist-", StringComparison.Ordinal)).ToArray();
                return ours.Length >= calls;
            }, TimeSpan.FromSeconds(10), "every call's usage record");
            Assert.Equal(calls, ours.Length);
            Assert.Equal(calls, ours.Select(static r => r.GetProperty("requestId").GetString()).Distinct().Count());
            Assert.Equal(admitted, ours.Count(static r => r.GetProperty("status").GetInt32() == 200));
            foreach (var client in clients) client.Dispose();
        }
        finally
        {
            foreach (var replica in replicas) await replica.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_budget_holds_across_three_replicas()
    {
        // 10 prompt tokens at $10,000/M and 5 completion tokens at $20,000/M: $0.20 a call; a $1.00 budget admits five.
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        await using var shared = await DistributedKit.CreateSharedAsync();
        var replicas = await DistributedKit.StartReplicasAsync(3, Config(upstream.BaseUrl + "/v1", input: 10_000m, output: 20_000m), shared);
        try
        {
            var key = await CreateKeyAsync(replicas[0], new { name = "budgeted", budgetUsd = 1.0, budgetPeriod = "monthly" });
            var secret = key.GetProperty("key").GetString()!;
            var clients = replicas.Select(r => ClientWithKey(r, secret)).ToArray();
            await UntilAllAsync(clients, HttpStatusCode.OK, TimeSpan.FromSeconds(5), "the key to reach every replica", model: "free-model");
            var probes = upstream.Count;
            await AdmitsFiveOfFifteenAsync(clients, refusal: null);
            Assert.Equal(5, upstream.Count - probes);
            foreach (var client in clients) client.Dispose();
        }
        finally
        {
            foreach (var replica in replicas) await replica.DisposeAsync();
        }
    }

    [Fact]
    public async Task Three_replicas_started_together_on_an_empty_database_take_turns_to_migrate_and_all_serve()
    {
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        await using var shared = await DistributedKit.CreateSharedAsync();
        // No replica migrated first: all three find every migration pending.
        var replicas = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => GatewayHost.StartAsync(Config(upstream.BaseUrl + "/v1"), shared.Overrides())));
        try
        {
            await UntilAllAsync(replicas.Select(static r => r.Client).ToArray(), HttpStatusCode.OK, TimeSpan.FromSeconds(5), "every replica to serve the model");
            await using var connection = new Npgsql.NpgsqlConnection(shared.ConnectionString);
            await connection.OpenAsync();
            await using var count = new Npgsql.NpgsqlCommand("SELECT count(*), count(DISTINCT scriptname) FROM schemaversions", connection);
            await using var reader = await count.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.True(reader.GetInt64(0) > 10, $"only {reader.GetInt64(0)} migrations journaled");
            Assert.Equal(reader.GetInt64(1), reader.GetInt64(0));
        }
        finally
        {
            foreach (var replica in replicas) await replica.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_policy_spending_cap_holds_across_three_replicas()
    {
        // $0.20 a call as above; a global policy caps all spending at $1.00 a month: five calls in all.
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        await using var shared = await DistributedKit.CreateSharedAsync();
        var replicas = await DistributedKit.StartReplicasAsync(3, Config(upstream.BaseUrl + "/v1", input: 10_000m, output: 20_000m), shared);
        try
        {
            var clients = replicas.Select(static r => r.Client).ToArray();
            await UntilAllAsync(clients, HttpStatusCode.OK, TimeSpan.FromSeconds(5), "every replica to serve the model", model: "free-model");
            const string policy = """
                name: one-dollar
                scope: global
                reason: one dollar for everyone
                rules:
                  budget: {maxUsd: 1, period: monthly}
                """;
            using (var response = await replicas[0].Client.PostAsync("api/v1/policies", new StringContent(policy, System.Text.Encoding.UTF8, "application/yaml")))
            {
                Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            }
            // Every replica has loaded the cap (its dry run reports it) before any money is spent.
            var loaded = Stopwatch.StartNew();
            foreach (var client in clients)
            {
                while (true)
                {
                    using var dryRun = await client.PostAsJsonAsync("api/v1/policies/dry-run", new { request = new { model = "gpt-4o-mini" } });
                    var decision = (await dryRun.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("decision");
                    if (decision.TryGetProperty("budgetCapUsd", out var cap) && cap.ValueKind == JsonValueKind.Number && cap.GetDecimal() == 1m) break;
                    Assert.True(loaded.Elapsed < TimeSpan.FromSeconds(5), "the spending cap did not reach every replica within five seconds");
                }
            }

            var probes = upstream.Count;
            await AdmitsFiveOfFifteenAsync(clients, refusal: "one-dollar");
            Assert.Equal(5, upstream.Count - probes);
        }
        finally
        {
            foreach (var replica in replicas) await replica.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_policy_created_on_one_replica_is_enforced_by_all_within_one_second()
    {
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        await using var shared = await DistributedKit.CreateSharedAsync();
        var replicas = await DistributedKit.StartReplicasAsync(3, Config(upstream.BaseUrl + "/v1"), shared);
        try
        {
            var clients = replicas.Select(static r => r.Client).ToArray();
            await UntilAllAsync(clients, HttpStatusCode.OK, TimeSpan.FromSeconds(5), "every replica to serve the model");
            const string policy = """
                name: no-mini
                scope: global
                reason: retired on every replica
                rules:
                  models:
                    deny: ["gpt-4o-mini"]
                """;
            using (var response = await replicas[0].Client.PostAsync("api/v1/policies", new StringContent(policy, System.Text.Encoding.UTF8, "application/yaml")))
            {
                Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            }
            // Policies have no periodic refresh: only the invalidation message can reach the other replicas.
            await UntilAllAsync(clients, HttpStatusCode.Forbidden, TimeSpan.FromSeconds(1), "the new policy to be enforced by every replica");
            using var refused = await ChatAsync(replicas[2].Client);
            Assert.Contains("retired on every replica", (await ErrorAsync(refused)).GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var replica in replicas) await replica.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_answer_cached_by_one_replica_is_a_hit_on_the_others()
    {
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        await using var shared = await DistributedKit.CreateSharedAsync();
        var replicas = await DistributedKit.StartReplicasAsync(3, Config(upstream.BaseUrl + "/v1"), shared,
            new Dictionary<string, string?> { ["Gateway:Cache:Enabled"] = "true" });
        try
        {
            var content = "cached everywhere " + Guid.NewGuid().ToString("N");
            string first;
            using (var miss = await ChatAsync(replicas[0].Client, content: content))
            {
                Assert.Equal(HttpStatusCode.OK, miss.StatusCode);
                Assert.Equal("MISS", Header(miss, "x-cache"));
                first = await miss.Content.ReadAsStringAsync();
            }
            Assert.Equal(1, upstream.Count);
            // The shared write happens after the answer: wait for the other replicas to see it.
            foreach (var replica in replicas.Skip(1))
            {
                var deadline = Stopwatch.StartNew();
                while (true)
                {
                    using var response = await ChatAsync(replica.Client, content: content);
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                    if (Header(response, "x-cache") == "HIT")
                    {
                        Assert.Equal(first, await response.Content.ReadAsStringAsync());
                        break;
                    }
                    Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(5), "the cached answer did not reach the other replica");
                }
            }
            // Only misses went upstream: the first call, and any the write had not reached yet.
            Assert.True(upstream.Count <= 3, $"{upstream.Count} upstream calls");
            using var again = await ChatAsync(replicas[2].Client, content: content);
            Assert.Equal("HIT", Header(again, "x-cache"));
        }
        finally
        {
            foreach (var replica in replicas) await replica.DisposeAsync();
        }
    }

    /// <summary>Polls every client until each answers <paramref name="status"/> (null: anything but 401) or the deadline passes.</summary>
    /// <summary>
    /// Fifteen $0.20 calls spread over the replicas against $1.00 of budget: each replica alone would admit five, together
    /// they admit five, and the rest are refused as out of quota (naming <paramref name="refusal"/> when given).
    /// </summary>
    private static async Task AdmitsFiveOfFifteenAsync(HttpClient[] clients, string? refusal)
    {
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 15; i++)
        {
            using var response = await ChatAsync(clients[i % clients.Length]);
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                var error = await ErrorAsync(response);
                Assert.Equal("insufficient_quota", error.GetProperty("code").GetString());
                if (refusal is not null) Assert.Contains(refusal, error.GetProperty("message").GetString(), StringComparison.Ordinal);
            }
        }
        Assert.Equal(5, statuses.Count(static s => s == HttpStatusCode.OK));
        Assert.All(statuses.Skip(5), static s => Assert.Equal(HttpStatusCode.TooManyRequests, s));
    }

    internal static async Task UntilAllAsync(HttpClient[] clients, HttpStatusCode? status, TimeSpan timeout, string what, string model = "gpt-4o-mini")
    {
        var pending = clients.ToList();
        try
        {
            await Wait.UntilAsync(async () =>
            {
                var still = new List<HttpClient>();
                foreach (var client in pending)
                {
                    using var response = await ChatAsync(client, model);
                    var ok = status is { } expected ? response.StatusCode == expected : response.StatusCode != HttpStatusCode.Unauthorized;
                    if (!ok) still.Add(client);
                }
                pending = still;
                return still.Count == 0;
            }, timeout, what);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message} {pending.Count} replica(s) not there yet.", ex);
        }
    }
}
