using System.Diagnostics.Metrics;
using LlmMarketplace.BuildingBlocks.Telemetry;
using Microsoft.Extensions.Logging;

namespace LlmMarketplace.BuildingBlocks.Distributed.Telemetry;

/// <summary>The meter of the shared state (Redis): fallbacks to local state and refusals while Redis is unreachable.</summary>
public sealed class DistributedMetrics(IMeterFactory meterFactory)
{
    public const string MeterName = "LlmMarketplace.Distributed";

    private readonly Counter<long> _fallbacks = meterFactory.Counter<long>(MeterName, "llmm.redis.fallbacks", "{operation}",
        "Operations on shared state done on this replica's local state because Redis was unreachable (fail-open), by use.");
    private readonly Counter<long> _refusals = meterFactory.Counter<long>(MeterName, "llmm.redis.refusals", "{request}",
        "Calls refused because Redis was unreachable (fail-closed), by use.");

    /// <summary>Counts a fallback; <paramref name="use"/> is a fixed name (rate_limit, budget, cache, stream).</summary>
    public void Fallback(string use) => _fallbacks.Add(1, "use", use);

    public void Refused(string use) => _refusals.Add(1, "use", use);
}

/// <summary>Log messages of the shared state (event ids 9000-9099). Never a key or a secret.</summary>
public static partial class DistributedLog
{
    [LoggerMessage(9000, LogLevel.Warning, "Redis is unreachable: {Use} falls back to this replica's local state until it returns")]
    public static partial void FallingBack(ILogger logger, string use, Exception exception);

    [LoggerMessage(9001, LogLevel.Information, "Redis is reachable again: {Use} uses the shared state")]
    public static partial void Recovered(ILogger logger, string use);

    [LoggerMessage(9002, LogLevel.Warning, "Redis is unreachable: {Use} refuses calls (Redis:FailureMode is closed)")]
    public static partial void RefusingCalls(ILogger logger, string use, Exception exception);

    [LoggerMessage(9003, LogLevel.Warning, "Could not announce a change of {Topic} to the other replicas; they pick it up at their next refresh")]
    public static partial void InvalidationNotPublished(ILogger logger, string topic, Exception exception);

    [LoggerMessage(9004, LogLevel.Warning, "Reloading {Topic} after another replica's change failed")]
    public static partial void InvalidationFailed(ILogger logger, string topic, Exception exception);

    [LoggerMessage(9006, LogLevel.Warning, "Could not subscribe to the other replicas' change messages; subscribing again when Redis is reachable")]
    public static partial void NotSubscribed(ILogger logger, Exception exception);

    [LoggerMessage(9005, LogLevel.Information, "Shared state in Redis ({Endpoints}), failure mode {Mode}")]
    public static partial void Configured(ILogger logger, string endpoints, RedisFailureMode mode);
}
