namespace LlmMarketplace.Access.Storage;

// Rows as Dapper reads them (snake_case columns map to these names). Integers are long: SQLite has no narrower type.

internal sealed class TeamRow
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public long? Rpm { get; set; }
    public long? Tpm { get; set; }
    public long CreatedAtMs { get; set; }
}

internal sealed class AppRow
{
    public string Id { get; set; } = "";
    public string TeamId { get; set; } = "";
    public string Name { get; set; } = "";
    public long? Rpm { get; set; }
    public long? Tpm { get; set; }
    public long CreatedAtMs { get; set; }
}

internal sealed class KeyRow
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string Prefix { get; set; } = "";
    public string Hash { get; set; } = "";
    public string? TeamId { get; set; }
    public string? AppId { get; set; }
    public string? UserId { get; set; }
    public string Role { get; set; } = "";
    public string? Models { get; set; }
    public long Direct { get; set; }
    public long? Rpm { get; set; }
    public long? Tpm { get; set; }
    public long? ExpiresAtMs { get; set; }
    public long? RevokedAtMs { get; set; }
    public long CreatedAtMs { get; set; }
    public string? CreatedBy { get; set; }
    public string? PreviousHash { get; set; }
    public long? PreviousUntilMs { get; set; }
}

internal sealed class BudgetRow
{
    public string Id { get; set; } = "";
    public string Scope { get; set; } = "";
    public string ScopeId { get; set; } = "";
    public decimal? LimitUsd { get; set; }
    public long? LimitTokens { get; set; }
    public string Period { get; set; } = "";
    public double AlertThreshold { get; set; }
    public long CreatedAtMs { get; set; }
}

internal sealed class PlanRow
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string Model { get; set; } = "";
    public long? Rpm { get; set; }
    public long? Tpm { get; set; }
    public long? TokenQuota { get; set; }
    public string QuotaPeriod { get; set; } = "";
    public decimal PriceUsd { get; set; }
    public long RequiresApproval { get; set; }
    public long CreatedAtMs { get; set; }
}

internal sealed class SubscriptionRow
{
    public string Id { get; set; } = "";
    public string AppId { get; set; } = "";
    public string PlanId { get; set; } = "";
    public string Status { get; set; } = "";
    public long CreatedAtMs { get; set; }
    public long UpdatedAtMs { get; set; }
    public long? ExpiresAtMs { get; set; }

    /// <summary>When it became active (billable), if it has.</summary>
    public long? ActivatedAtMs { get; set; }

    /// <summary>When it was cancelled (stopped being billable), if it was.</summary>
    public long? EndedAtMs { get; set; }
}

internal sealed class UsageRow
{
    public long Seq { get; set; }
    public string RequestId { get; set; } = "";
    public long AtMs { get; set; }
    public string Operation { get; set; } = "";
    public string? KeyId { get; set; }
    public string? AppId { get; set; }
    public string? TeamId { get; set; }
    public string? UserId { get; set; }
    public string? SubscriptionId { get; set; }
    public string Model { get; set; } = "";
    public string? Provider { get; set; }
    public string? Deployment { get; set; }
    public string? Listing { get; set; }
    public string? ListingVersion { get; set; }
    public long PromptTokens { get; set; }
    public long CompletionTokens { get; set; }
    public long CachedTokens { get; set; }
    public long ReasoningTokens { get; set; }
    public decimal CostUsd { get; set; }
    public double LatencyMs { get; set; }
    public double? TtftMs { get; set; }
    public long Status { get; set; }
    public string Cache { get; set; } = "";
    public long Stream { get; set; }

    /// <summary>This record's own id (the same on every delivery attempt), so that it is stored once.</summary>
    public string? RecordId { get; set; }
}

internal sealed class SpendRow
{
    public decimal? Cost { get; set; }
    public long? Tokens { get; set; }
}
