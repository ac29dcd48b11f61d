using LlmMarketplace.BuildingBlocks.Distributed.Telemetry;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace LlmMarketplace.BuildingBlocks.Distributed;

/// <summary>Thrown on the hot path when Redis is unreachable and <see cref="RedisFailureMode.Closed"/> is configured.</summary>
public sealed class SharedStateUnavailableException(string use, Exception inner)
    : Exception($"The shared {use} state (Redis) is unreachable.", inner)
{
    public string Use { get; } = use;
}

/// <summary>
/// Runs an operation on Redis and applies the configured failure mode when Redis is unreachable: the local fallback
/// (fail-open, logged once per outage and counted) or <see cref="SharedStateUnavailableException"/> (fail-closed).
/// </summary>
public sealed class SharedStateGuard(RedisConnection redis, DistributedMetrics metrics, ILogger<SharedStateGuard> logger)
{
    private int _failing;

    public RedisConnection Redis => redis;

    public bool FailOpen => redis.Options.FailureMode == RedisFailureMode.Open;

    /// <summary>Whether the last shared operation failed (readiness reports degraded meanwhile).</summary>
    public bool Failing => Volatile.Read(ref _failing) == 1;

    public T Run<T>(string use, Func<IDatabase, T> shared, Func<T> local)
    {
        if (!redis.IsConnected)
        {
            return Fail(use, new RedisException("Not connected to Redis."), local);
        }
        try
        {
            var result = shared(redis.Database);
            Succeeded(use);
            return result;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return Fail(use, ex, local);
        }
    }

    /// <summary>The asynchronous form, for the hot path: a replica under load must not block threads on Redis.</summary>
    public async ValueTask<T> RunAsync<T>(string use, Func<IDatabase, Task<T>> shared, Func<T> local)
    {
        if (!redis.IsConnected)
        {
            return Fail(use, new RedisException("Not connected to Redis."), local);
        }
        try
        {
            var result = await shared(redis.Database);
            Succeeded(use);
            return result;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return Fail(use, ex, local);
        }
    }

    public void Run(string use, Action<IDatabase> shared, Action local) =>
        Run<bool>(use, db => { shared(db); return true; }, () => { local(); return true; });

    private void Succeeded(string use)
    {
        if (Interlocked.Exchange(ref _failing, 0) == 1) DistributedLog.Recovered(logger, use);
    }

    private T Fail<T>(string use, Exception ex, Func<T> local)
    {
        var first = Interlocked.Exchange(ref _failing, 1) == 0;
        if (FailOpen)
        {
            if (first) DistributedLog.FallingBack(logger, use, ex);
            metrics.Fallback(use);
            return local();
        }
        if (first) DistributedLog.RefusingCalls(logger, use, ex);
        metrics.Refused(use);
        throw new SharedStateUnavailableException(use, ex);
    }
}
