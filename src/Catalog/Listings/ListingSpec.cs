using System.Text.Json.Serialization;

namespace LlmMarketplace.Catalog.Listings;

/// <summary>
/// What a version of a listing says about the service: the union of what OpenRouter model entries, Hugging Face
/// model cards and Backstage API entities hold. Publishers send it to <c>POST /api/v1/services</c> and
/// <c>POST /api/v1/services/{id}/versions</c>; it is stored as JSON on the version.
/// </summary>
public sealed record ListingSpec
{
    public string? Slug { get; init; }
    public string? Version { get; init; }
    public string? CanonicalId { get; init; }
    public string? Name { get; init; }
    public string? Description { get; init; }
    public string? Publisher { get; init; }
    public string? Category { get; init; }
    public IReadOnlyList<string>? Tags { get; init; }
    public string? Kind { get; init; }
    public IReadOnlyList<string>? InputModalities { get; init; }
    public IReadOnlyList<string>? OutputModalities { get; init; }
    public int? ContextLength { get; init; }
    public int? MaxOutputTokens { get; init; }
    public IReadOnlyList<string>? SupportedParameters { get; init; }
    public ListingPricing? Pricing { get; init; }
    public IReadOnlyList<string>? Plans { get; init; }
    public IReadOnlyList<DeploymentSpec>? Deployments { get; init; }
    public ComplianceSpec? Compliance { get; init; }
    public SlaSpec? Sla { get; init; }
    public string? Licence { get; init; }
    public string? KnowledgeCutoff { get; init; }
    public IReadOnlyDictionary<string, string>? Links { get; init; }
    public string? Documentation { get; init; }
    /// <summary>For services that are not chat or embedding: an OpenAPI 3.0/3.1 document (JSON or YAML text).</summary>
    public string? OpenApi { get; init; }
    /// <summary>Unix seconds the model was released (imports) or the listing was first published.</summary>
    public long? Created { get; init; }
}

/// <summary>Prices in USD per 1M tokens, plus a fee per request and the unit prices of the other kinds.</summary>
public sealed record ListingPricing(decimal? InputPerMTok, decimal? OutputPerMTok, decimal? CachedInputPerMTok = null, decimal? CacheWritePerMTok = null, decimal? PerRequest = null)
{
    /// <summary>USD per search unit of a reranker (one query over up to 100 documents).</summary>
    public decimal? PerSearchUnit { get; init; }

    /// <summary>USD per generated image.</summary>
    public decimal? PerImage { get; init; }

    /// <summary>USD per minute of transcribed audio.</summary>
    public decimal? PerMinute { get; init; }

    /// <summary>USD per million characters turned into speech.</summary>
    public decimal? PerMCharacters { get; init; }
}

/// <summary>Where the service runs. <c>ApiKey</c> is a secret reference (<c>env:NAME</c>), never the secret.</summary>
public sealed record DeploymentSpec
{
    public string? Provider { get; init; }
    /// <summary><c>openai</c> (default), <c>azure-openai</c>, <c>anthropic</c>, <c>gemini</c>.</summary>
    public string? Type { get; init; }
    public string? UpstreamModel { get; init; }
    public string? BaseUrl { get; init; }
    public string? ApiKey { get; init; }
    public string? Region { get; init; }
    public string? DataResidency { get; init; }
    public ListingPricing? Pricing { get; init; }
}

public sealed record ComplianceSpec
{
    public IReadOnlyList<string>? Certifications { get; init; }
    public bool? DataCollection { get; init; }
    public bool? ZeroRetention { get; init; }
    /// <summary><c>public</c>, <c>internal</c>, <c>confidential</c> or <c>restricted</c>.</summary>
    public string? MaxDataClassification { get; init; }
}

public sealed record SlaSpec(double? P95LatencyMs, double? UptimePercent);

/// <summary>Listing kinds.</summary>
public static class ListingKinds
{
    public const string Chat = "chat";
    public const string Embedding = "embedding";
    public const string Reranker = "reranker";
    public const string OpenApi = "openapi";
    public const string Moderation = "moderation";
    public const string Image = "image";
    public const string Transcription = "transcription";
    public const string Speech = "speech";
    public static readonly IReadOnlyList<string> All = [Chat, Embedding, Reranker, OpenApi, Moderation, Image, Transcription, Speech];
}

/// <summary>Version lifecycle states.</summary>
public static class VersionStates
{
    public const string Draft = "draft";
    public const string PendingApproval = "pending_approval";
    public const string Published = "published";
    public const string Deprecated = "deprecated";
    public const string Retired = "retired";

    /// <summary>Whether the lifecycle allows moving from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public static bool CanMove(string from, string to) => (from, to) switch
    {
        (Draft, PendingApproval) => true,
        (PendingApproval, Published) => true,
        (PendingApproval, Draft) => true,        // rejected: back to the publisher
        (Published, Deprecated) => true,
        (Published, Retired) => true,
        (Deprecated, Retired) => true,
        _ => false,
    };

    public static bool IsRoutable(string state) => state is Published or Deprecated;
}

/// <summary>The results of the automated checks run on submit, stored on the version.</summary>
public sealed record VersionChecks(DateTimeOffset RanAt, bool Passed, IReadOnlyList<DeploymentCheck> Deployments);

public sealed record DeploymentCheck(
    string Provider,
    string? BaseUrl,
    [property: JsonPropertyName("health")] CheckResult Health,
    [property: JsonPropertyName("conformance")] CheckResult Conformance,
    double? LatencyMs);

public sealed record CheckResult(string Status, string? Detail)
{
    public static CheckResult Skipped(string why) => new("skipped", why);
    public static CheckResult Pass(string? detail = null) => new("pass", detail);
    public static CheckResult Fail(string detail) => new("fail", detail);
}
