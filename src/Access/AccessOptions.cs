namespace LlmMarketplace.Access;

/// <summary>The <c>Access</c> configuration section.</summary>
public sealed record AccessOptions
{
    public const string SectionName = "Access";

    /// <summary>IANA time zone in which budget and quota periods are calendar-aligned (default UTC).</summary>
    public string TimeZone { get; init; } = "UTC";

    /// <summary>Fraction of a budget at which an alert event is emitted (default 0.8).</summary>
    public double AlertThreshold { get; init; } = 0.8;

    /// <summary>How often the in-memory key, plan and budget directory is reloaded to pick up changes made elsewhere (the CLI, another replica).</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often usage kept on local disk (the database was unavailable) is offered to the database again (default 5 s).</summary>
    public TimeSpan SpoolRetryInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>With Redis: usage goes through the usage stream (a Redis Stream written to the database in batches by a consumer group); false writes it directly.</summary>
    public bool UsageStream { get; init; } = true;

    /// <summary>How long an entry of the usage stream may stay read but unwritten by a consumer (a replica that died) before another takes it over.</summary>
    public TimeSpan UsageStreamClaimAfter { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Most usage records committed in one transaction.</summary>
    public int MaxBatchSize { get; init; } = 512;

    /// <summary>Rate limits per deployment id (<c>model/provider</c> or the configured id): requests and tokens per minute.</summary>
    public Dictionary<string, DeploymentLimit> DeploymentLimits { get; init; } = new(StringComparer.Ordinal);
}

/// <summary>Requests and tokens per minute a deployment accepts from the whole gateway.</summary>
public sealed record DeploymentLimit
{
    public int? Rpm { get; init; }

    public int? Tpm { get; init; }
}
