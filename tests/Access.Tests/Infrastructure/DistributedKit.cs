namespace LlmMarketplace.Access.Tests.Infrastructure;

/// <summary>
/// What distributed tests run on: the PostgreSQL and Redis that the test script starts (<c>LLMM_TEST_POSTGRES</c>,
/// <c>LLMM_TEST_REDIS</c>), a fresh database and key prefix per test, and Redis servers of their own to stop and restart.
/// These tests never skip: without the servers they fail and say how to get them.
/// </summary>
public static class DistributedKit
{
    public static string Postgres => TestPostgres.Admin;

    public static string Redis => TestRedis.Configuration;

    /// <summary>Shared state for several replicas: a new PostgreSQL database and a Redis key prefix of their own.</summary>
    public static async Task<SharedState> CreateSharedAsync(string? redis = null)
    {
        var redisConfiguration = redis ?? Redis;
        return new SharedState(await TestPostgres.CreateDatabaseAsync("llmm_dist_"), redisConfiguration, TestRedis.UniquePrefix());
    }

    public sealed class SharedState(TestDatabase database, string redis, string prefix) : IAsyncDisposable
    {
        public string ConnectionString => database.ConnectionString;

        public string Redis { get; } = redis;

        public string KeyPrefix { get; } = prefix;

        /// <summary>Host overrides: PostgreSQL, Redis, and no periodic refresh to lean on (changes must arrive by message).</summary>
        public Dictionary<string, string?> Overrides(IReadOnlyDictionary<string, string?>? extra = null)
        {
            var overrides = database.Overrides();
            overrides["Redis:Configuration"] = Redis;
            overrides["Redis:KeyPrefix"] = KeyPrefix;
            overrides["Access:RefreshInterval"] = "00:10:00";
            if (extra is not null) foreach (var (k, v) in extra) overrides[k] = v;
            return overrides;
        }

        public ValueTask DisposeAsync() => database.DisposeAsync();
    }

    /// <summary>Starts <paramref name="count"/> in-process replicas on their own ports and data directories, sharing <paramref name="shared"/>.</summary>
    public static async Task<GatewayHost[]> StartReplicasAsync(int count, string config, SharedState shared, IReadOnlyDictionary<string, string?>? extra = null)
    {
        var replicas = new GatewayHost[count];
        // The first one migrates the database; the others start on it together.
        replicas[0] = await GatewayHost.StartAsync(config, shared.Overrides(extra));
        var rest = await Task.WhenAll(Enumerable.Range(1, count - 1).Select(_ => GatewayHost.StartAsync(config, shared.Overrides(extra))));
        rest.CopyTo(replicas, 1);
        return replicas;
    }
}
