namespace LlmMarketplace.BuildingBlocks.Distributed;

/// <summary>What a replica does with shared counters when Redis cannot be reached.</summary>
public enum RedisFailureMode
{
    /// <summary>Fall back to this replica's own limits and counters, with a warning, a metric and readiness degraded.</summary>
    Open,

    /// <summary>Refuse calls that need a shared counter (429 with a message that says why).</summary>
    Closed,
}

/// <summary>
/// The <c>Redis</c> configuration section. Without <see cref="Configuration"/> every replica keeps its limits, counters
/// and caches in its own memory (the embedded default).
/// </summary>
public sealed record RedisOptions
{
    public const string SectionName = "Redis";

    /// <summary>
    /// A StackExchange.Redis configuration string (<c>host:port,host2:port,password=...,ssl=true,...</c>) or a reference
    /// to one (<c>env:NAME</c>, <c>file:PATH</c>). Several endpoints of a Redis Cluster are discovered from any of them.
    /// </summary>
    public string? Configuration { get; init; }

    /// <summary><c>open</c> (default) or <c>closed</c>: see <see cref="RedisFailureMode"/>.</summary>
    public RedisFailureMode FailureMode { get; init; } = RedisFailureMode.Open;

    /// <summary>Prefix of every key and channel, so that several installations can share one Redis.</summary>
    public string KeyPrefix { get; init; } = "llmm:";

    /// <summary>How long one Redis operation may take before it counts as a failure (default 1 s).</summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromSeconds(1);

    public bool IsConfigured => !string.IsNullOrWhiteSpace(Configuration);
}
