using System.Globalization;
using LlmMarketplace.BuildingBlocks.Distributed;
using Microsoft.Extensions.Logging.Abstractions;
using CsCheck;
using StackExchange.Redis;

namespace LlmMarketplace.Access.Tests.Distributed;

/// <summary>
/// Scripts started while a batch is open go to Redis as one script, each with its own keys, arguments and reply; the
/// scripts Redis runs are counted on a Redis of the test's own (<c>INFO commandstats</c>).
/// </summary>
public sealed class ScriptBatchTests
{
    private const string Add = "return redis.call('INCRBY', KEYS[1], ARGV[1])";
    private const string Pair = "local v = redis.call('INCRBY', KEYS[1], ARGV[1]) return {tostring(v), ARGV[2], #KEYS, #ARGV}";
    private const string Fails = "redis.call('INCRBY', KEYS[1], 1) return redis.call('HGET', KEYS[1], 'x')";

    [Fact]
    public async Task Scripts_started_in_a_batch_run_as_one_script_each_with_its_own_keys_arguments_and_reply()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var connection = await ConnectAsync(redis);
        var db = connection.Database;
        var before = await ScriptsAsync(redis);

        Task<RedisResult> a, b, c;
        using (ScriptBatch.Open(connection))
        {
            a = ScriptBatch.EvaluateAsync(db, Add, ["a"], [5]);
            b = ScriptBatch.EvaluateAsync(db, Pair, ["b", "unused"], [7, "seven", "extra"]);
            c = ScriptBatch.EvaluateAsync(db, Add, ["a"], [10]);
            Assert.False(a.IsCompleted || b.IsCompleted || c.IsCompleted);
        }

        Assert.Equal(5, (long)await a);
        var pair = (RedisResult[])(await b)!;
        Assert.Equal(new[] { "7", "seven", "2", "3" }, pair.Select(static r => r.ToString()).ToArray());
        Assert.Equal(15, (long)await c);
        Assert.Equal(1, await ScriptsAsync(redis) - before);
        Assert.Equal(15, (long)await db.StringGetAsync("a"));
    }

    [Fact]
    public async Task A_failing_script_fails_alone_and_the_others_of_its_batch_still_run()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var connection = await ConnectAsync(redis);
        var db = connection.Database;
        var before = await ScriptsAsync(redis);

        Task<RedisResult> first, failing, last;
        using (ScriptBatch.Open(connection))
        {
            first = ScriptBatch.EvaluateAsync(db, Add, ["n"], [1]);
            failing = ScriptBatch.EvaluateAsync(db, Fails, ["n"], []);
            last = ScriptBatch.EvaluateAsync(db, Add, ["n"], [100]);
        }

        Assert.Equal(1, (long)await first);
        // HGET on a string: Redis's own error, as the script alone would have had it.
        var error = await Assert.ThrowsAsync<RedisServerException>(() => failing);
        Assert.Contains("WRONGTYPE", error.Message, StringComparison.Ordinal);
        // Like a script on its own, what it wrote before the error stays.
        Assert.Equal(102, (long)await last);
        Assert.Equal(1, await ScriptsAsync(redis) - before);
    }

    [Fact]
    public async Task Outside_a_batch_or_once_it_closed_a_script_goes_on_its_own_at_once()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var connection = await ConnectAsync(redis);
        var db = connection.Database;
        var before = await ScriptsAsync(redis);

        Assert.Equal(1, (long)await ScriptBatch.EvaluateAsync(db, Add, ["x"], [1]));
        var batch = ScriptBatch.Open(connection);
        var inside = ScriptBatch.EvaluateAsync(db, Add, ["x"], [2]);
        batch.Dispose();
        // A continuation that still sees the closed batch (it captured the flow) is not held back by it.
        Assert.Equal(3, (long)await inside);
        Assert.Equal(6, (long)await ScriptBatch.EvaluateAsync(db, Add, ["x"], [3]));
        // One script alone in a batch is sent as it is.
        using (ScriptBatch.Open(connection))
        {
            inside = ScriptBatch.EvaluateAsync(db, Add, ["x"], [4]);
        }
        Assert.Equal(10, (long)await inside);
        Assert.Equal(4, await ScriptsAsync(redis) - before);
    }

    [Fact]
    public async Task On_a_cluster_scripts_whose_keys_share_a_slot_go_as_one_and_the_others_one_by_one()
    {
        await using var redis = await RedisServer.StartAsync("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf");
        await using (var admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true"))
        {
            await admin.GetServer(admin.GetEndPoints()[0]).ExecuteAsync("CLUSTER", "ADDSLOTSRANGE", "0", "16383");
            await Wait.UntilAsync(async () => (await admin.GetServer(admin.GetEndPoints()[0]).ExecuteAsync("CLUSTER", "INFO")).ToString().Contains("cluster_state:ok", StringComparison.Ordinal),
                TimeSpan.FromSeconds(20), "the one-node cluster to serve its slots");
        }
        await using var connection = await ConnectAsync(redis);
        await Wait.UntilAsync(() => connection.IsCluster, TimeSpan.FromSeconds(20), "the client to see a cluster");
        var db = connection.Database;
        var before = await ScriptsAsync(redis);

        Task<RedisResult> a, b;
        using (ScriptBatch.Open(connection))
        {
            a = ScriptBatch.EvaluateAsync(db, Add, ["{call}:a"], [1]);
            b = ScriptBatch.EvaluateAsync(db, Add, ["{call}:b"], [2]);
        }
        Assert.Equal(1, (long)await a);
        Assert.Equal(2, (long)await b);
        Assert.Equal(1, await ScriptsAsync(redis) - before);

        // "one" and "two" hash to different slots: one script may not touch both.
        Assert.NotEqual(ClusterSlot.Of("one"), ClusterSlot.Of("two"));
        using (ScriptBatch.Open(connection))
        {
            a = ScriptBatch.EvaluateAsync(db, Add, ["one"], [1]);
            b = ScriptBatch.EvaluateAsync(db, Add, ["two"], [2]);
        }
        Assert.Equal(1, (long)await a);
        Assert.Equal(2, (long)await b);
        Assert.Equal(3, await ScriptsAsync(redis) - before);
    }

    [Fact]
    public async Task The_slot_of_a_key_is_the_one_Redis_computes_hash_tags_included()
    {
        await using var redis = await RedisServer.StartAsync("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf");
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        // Plain keys, keys with a hash tag, an empty tag (the whole key counts), unclosed braces, bytes beyond ASCII.
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

    private static async Task<RedisConnection> ConnectAsync(RedisServer redis)
    {
        var connection = new RedisConnection(new RedisOptions { Configuration = redis.Configuration, KeyPrefix = "" }, NullLoggerFactory.Instance);
        await Wait.UntilAsync(() => connection.IsConnected, TimeSpan.FromSeconds(20), "the connection to Redis");
        return connection;
    }

    /// <summary>How many scripts (EVAL, EVALSHA) the Redis has run.</summary>
    private static async Task<long> ScriptsAsync(RedisServer redis)
    {
        await using var observer = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        var info = await observer.GetServer(observer.GetEndPoints()[0]).InfoRawAsync("commandstats") ?? "";
        long total = 0;
        foreach (var line in info.Split('\n'))
        {
            foreach (var command in new[] { "eval", "evalsha" })
            {
                var prefix = "cmdstat_" + command + ":calls=";
                if (!line.StartsWith(prefix, StringComparison.Ordinal)) continue;
                var rest = line.AsSpan(prefix.Length);
                var comma = rest.IndexOf(',');
                total += long.Parse(comma < 0 ? rest.Trim() : rest[..comma], CultureInfo.InvariantCulture);
            }
        }
        return total;
    }
}
