using System.Text.Json.Nodes;

namespace LlmMarketplace.Portal.Client;

// The shapes of the API's answers, as the portal reads them (JSON, camelCase).

public sealed record SearchPage(IReadOnlyList<SearchItem> Results, IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> Facets, int Total, int Offset, int Limit)
{
    /// <summary>Names to show for facet values that are ids (a publishing team's id); value → name.</summary>
    public IReadOnlyDictionary<string, string>? FacetLabels { get; init; }

    public string LabelOf(string value) => FacetLabels is not null && FacetLabels.TryGetValue(value, out var name) ? name : value;
}

public sealed record SearchItem(string Id, string Slug, string Name, double Score, string Description, string Publisher, string Category, string Kind,
    IReadOnlyList<string> Tags, IReadOnlyList<string> InputModalities, IReadOnlyList<string> OutputModalities, decimal? InputPerMTok, decimal? OutputPerMTok,
    int? ContextLength, IReadOnlyList<string> Providers, IReadOnlyList<string> Certifications, IReadOnlyList<string> Regions, double Rating, long RatingCount,
    string Version, string State, SlaTarget? Sla = null, MeasuredSlaSummary? MeasuredSla = null, string? PublisherName = null);

/// <summary>The SLA a listing version declares.</summary>
public sealed record SlaTarget(double? P95LatencyMs, double? UptimePercent);

/// <summary>What a listing's calls measured (search results): null figures without traffic.</summary>
public sealed record MeasuredSlaSummary(long Requests, double? P95LatencyMs, double? UptimePercent, bool? MeetsTarget);

/// <summary>What a listing's calls measured over <see cref="Window"/> (service page).</summary>
public sealed record MeasuredSla(string Window, long Requests, double? P95LatencyMs, double? UptimePercent, bool? MeetsTarget, DateTimeOffset? Since);

public sealed record AutocompletePage(IReadOnlyList<Suggestion> Suggestions);

/// <summary>An autocomplete entry; <see cref="IsQuery"/> marks the entry that searches for the typed text itself.</summary>
public sealed record Suggestion(string Id, string Slug, string Name, double Score, bool IsQuery = false);

public sealed record ServiceInfo(string Id, string Slug, string Name, string Publisher, string Source, string CreatedAt, string UpdatedAt,
    string? CurrentVersion, double Rating, long RatingCount, IReadOnlyList<VersionInfo> Versions, SlaTarget? Sla = null, MeasuredSla? MeasuredSla = null,
    string? PublisherName = null)
{
    /// <summary>Why the gateway cannot call this service; null when it can.</summary>
    public string? NotCallable { get; init; }
}

public sealed record VersionInfo(string Id, string Version, string State, string? Sunset, string? Replacement, string UpdatedAt);

public sealed record VersionDetail(string Id, string ServiceId, string Slug, string Version, string State, int ApprovalsRequired, Checks? Checks,
    string? Sunset, string? Replacement, JsonObject Listing, IReadOnlyList<Transition> History, IReadOnlyList<Approval> Approvals,
    string CreatedBy, string CreatedAt, string UpdatedAt);

public sealed record Checks(DateTimeOffset RanAt, bool Passed, IReadOnlyList<DeploymentCheck> Deployments);

public sealed record DeploymentCheck(string Provider, string? BaseUrl, CheckResult Health, CheckResult Conformance, double? LatencyMs);

public sealed record CheckResult(string Status, string? Detail);

public sealed record Transition(string? From, string To, string Actor, string? Reason, string At);

public sealed record Approval(string Approver, string Decision, string? Reason, string At);

public sealed record ReviewList(string ServiceId, double Average, int Count, IReadOnlyList<Review> Reviews);

public sealed record Review(string User, int Stars, string? Text, string UpdatedAt);

public sealed record ListOf<T>(IReadOnlyList<T> Data, long Total);

public sealed record Team(string Id, string Name, long? Rpm, long? Tpm, DateTimeOffset CreatedAt);

public sealed record ConsumerApp(string Id, string Name, string TeamId, long? Rpm, long? Tpm, DateTimeOffset CreatedAt);

public sealed record Plan(string Id, string Name, string Model, long? Rpm, long? Tpm, long? TokenQuota, string QuotaPeriod, decimal PriceUsd, bool RequiresApproval, DateTimeOffset CreatedAt);

public sealed record Subscription(string Id, string AppId, string PlanId, string Model, string Status, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? ExpiresAt);

public sealed record ApiKey(string Id, string Name, string Prefix, string? Team, string? App, string? User, string Role, IReadOnlyList<string>? Models, bool Direct,
    long? Rpm, long? Tpm, decimal? BudgetUsd, long? BudgetTokens, string? BudgetPeriod, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt, DateTimeOffset CreatedAt, string? Key = null);

public sealed record UsageRecord(string RequestId, DateTimeOffset Time, string Operation, string Model, string? Provider, string? Deployment, string? KeyId,
    string? AppId, string? TeamId, string? UserId, long PromptTokens, long CompletionTokens, long CachedTokens, long ReasoningTokens, decimal CostUsd,
    double LatencyMs, double? TimeToFirstTokenMs, int Status, string Cache, bool Stream);

public sealed record Budget(string Id, string Scope, string ScopeId, decimal? LimitUsd, long? LimitTokens, string Period, double AlertThreshold, decimal SpentUsd, long SpentTokens);

public sealed record User(string Id, string Username, string? DisplayName, string? Email, string Kind, IReadOnlyList<string> Roles, IReadOnlyList<TeamMembership> Teams,
    bool Disabled, bool Locked, DateTimeOffset? LockedUntil, long FailedAttempts, bool MustChangePassword, DateTimeOffset CreatedAt, DateTimeOffset? LastLoginAt);

public sealed record TeamMembership(string Id, string? Name);

public sealed record Policy(string Id, string Name, string Scope, string? ScopeId, bool Enabled, int CurrentVersion, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    JsonNode? Document, IReadOnlyList<PolicyVersion>? Versions);

public sealed record PolicyVersion(int Version, DateTimeOffset CreatedAt, string CreatedBy, string Format, JsonNode Document);

public sealed record AuditEntry(long Seq, string At, string Action, string Outcome, string ActorId, string ActorKind, string? TargetType, string? TargetId,
    string? Ip, JsonNode? Before, JsonNode? After, string PrevHash, string Hash);

public sealed record AuditVerification(bool Intact, long Checked, long? FirstBrokenSeq, string? Reason, string? HeadHash);

public sealed record DeploymentHealth(string Model, string Deployment, string Provider, string UpstreamModel, string? Region, string Circuit,
    int ConsecutiveFailures, double LatencyEwmaMs, double SuccessRate, long Requests, long Failures);

/// <summary>One row of analytics (a bucket or a group): sums, errors and latency percentiles.</summary>
public sealed record AnalyticsRow(DateTimeOffset? Time, string? Group, long Requests, long PromptTokens, long CompletionTokens, long TotalTokens,
    decimal CostUsd, long ErrorsServer, long Errors, double? LatencyP50Ms, double? LatencyP95Ms);

public sealed record PublisherListing(string Listing, string Publisher, string? PublisherName, AnalyticsRow Totals);

public sealed record PublisherListings(DateTimeOffset From, DateTimeOffset To, IReadOnlyList<PublisherListing> Data);

public sealed record ConsumingTeam(string Team, string? TeamName, long Requests, long TotalTokens, decimal CostUsd, long Errors, double? LatencyP95Ms);

public sealed record ServiceLevelPoint(DateTimeOffset Time, long Requests, double? LatencyP95Ms, double? UptimePercent);

/// <summary>What a listing's calls measured, for its publisher.</summary>
public sealed record PublisherAnalytics(string Listing, string Publisher, string? PublisherName, DateTimeOffset From, DateTimeOffset To, string Interval,
    double? TargetP95LatencyMs, double? TargetUptimePercent, AnalyticsRow Totals, IReadOnlyList<AnalyticsRow> Series,
    IReadOnlyList<ServiceLevelPoint> ServiceLevel, IReadOnlyList<ConsumingTeam> Teams);
