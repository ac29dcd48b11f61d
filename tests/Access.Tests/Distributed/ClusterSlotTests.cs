using CsCheck;
using LlmMarketplace.BuildingBlocks.Distributed;
using StackExchange.Redis;

namespace LlmMarketplace.Access.Tests.Distributed;

/// <summary>
/// On a Redis Cluster one script may only touch keys of one slot. The slots are computed as Redis computes them, and a
/// call whose buckets lie in several slots is served on a one-node cluster (which the client routes as one server and
/// for which it answers no slot) instead of being refused with CROSSSLOT.
/// </summary>
public sealed class ClusterSlotTests
{
    [Fact]
    public async Task The_slot_of_a_key_is_the_one_Redis_computes_hash_tags_included()
    {
        await using var redis = await ClusterNodeAsync();
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        // Plain keys, keys with a hash tag, an empty tag (the whole key counts), unclosed braces, characters beyond ASCII.
        var gen = Gen.OneOf(
            Gen.String[0, 40],
            Gen.Select(Gen.String[0, 10], Gen.String[0, 10], Gen.String[0, 10], static (a, b, c) => a + "{" + b + "}" + c),
            Gen.Select(Gen.String[0, 10], static a => "{}" + a + "{x}"),
            Gen.Select(Gen.String[0, 10], static a => a + "{" + a));
        await gen.SampleAsync(async key =>
        {
            var slot = (long)await server.ExecuteAsync("CLUSTER", "KEYSLOT", key);
            Assert.True(slot == ClusterSlot.Of(key), $"slot of '{key}': Redis {slot}, ours {ClusterSlot.Of(key)}");
        }, iter: 500);
        Assert.Equal(12182, ClusterSlot.Of("foo"));
        Assert.Equal(ClusterSlot.Of("{b1:1700000000000}"), ClusterSlot.Of("llmm:budget:{b1:1700000000000}:reserved"));
    }

    [Fact]
    public async Task On_a_one_node_cluster_a_call_whose_key_and_team_buckets_lie_in_two_slots_is_served_and_counted()
    {
        await using var redis = await ClusterNodeAsync();
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        // Fail closed: a script Redis refused would refuse the call.
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl + "/v1"), new Dictionary<string, string?>
        {
            ["Redis:Configuration"] = redis.Configuration,
            ["Redis:FailureMode"] = "closed",
        });
        var team = await PostJsonAsync(host.Client, "api/v1/teams", new { name = "sloted-" + Guid.NewGuid().ToString("N")[..8], rpm = 6, tpm = 1_000_000 });
        var teamId = team.GetProperty("id").GetString()!;
        var key = await CreateKeyAsync(host, new { name = "sloted", team = teamId, rpm = 6, tpm = 1_000_000, budgetUsd = 100.0, budgetPeriod = "monthly" });
        var keyId = key.GetProperty("id").GetString()!;
        Assert.NotEqual(ClusterSlot.Of("llmm:rl:team:" + teamId), ClusterSlot.Of("llmm:rl:key:" + keyId));
        using var client = ClientWithKey(host, key.GetProperty("key").GetString()!);
        for (var i = 0; i < 3; i++)
        {
            using var response = await ChatAsync(client);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Equal(3, upstream.Count);

        // Both buckets live in Redis, each having given three of its six requests (a tenth refills every second).
        await using var observer = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var db = observer.GetDatabase();
        var buckets = observer.GetServer(observer.GetEndPoints()[0]).Keys(pattern: "llmm:rl:*").Select(static k => (string)k!).ToList();
        Assert.Equal(2, buckets.Count);
        foreach (var bucket in buckets)
        {
            var requests = double.Parse((string)(await db.HashGetAsync(bucket, "r"))!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(requests, 3, 3.9);
        }
    }

    private static async Task<RedisServer> ClusterNodeAsync()
    {
        var redis = await RedisServer.StartAsync("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf");
        try
        {
            await ServeAllSlotsAsync(redis);
        }
        catch
        {
            await redis.DisposeAsync();
            throw;
        }
        return redis;
    }

    private static async Task ServeAllSlotsAsync(RedisServer redis)
    {
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        await server.ExecuteAsync("CLUSTER", "ADDSLOTSRANGE", "0", "16383");
        await Wait.UntilAsync(async () => (await server.ExecuteAsync("CLUSTER", "INFO")).ToString().Contains("cluster_state:ok", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "the one-node cluster to serve its slots");
    }
}
