using System.Text.Json.Serialization;

namespace LlmMarketplace.BuildingBlocks.Policy;

/// <summary>What the policy engine decides about personal data found in a prompt or completion.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<PiiHandling>))]
public enum PiiHandling
{
    /// <summary>No policy says anything: the caller's own default applies.</summary>
    Unspecified,
    Allow,
    Redact,
    Block,
}

/// <summary>The content rules that apply to a caller's scope (global, its teams, its app), merged strictest first.</summary>
public sealed record ContentDecision(PiiHandling Pii, IReadOnlyList<string> BlockedTerms, IReadOnlyList<string> Reasons)
{
    /// <summary>The policy that set <see cref="Pii"/> (<c>policy 'name': reason</c>), when one did.</summary>
    public string? PiiSource { get; init; }

    /// <summary>For each term of <see cref="BlockedTerms"/>, the policy that lists it (<c>policy 'name': reason</c>).</summary>
    public IReadOnlyDictionary<string, string>? TermSources { get; init; }
}

/// <summary>
/// Read-only view of the policy engine for other modules (the shield, the catalog): answered from the
/// compiled in-memory snapshot, never from the database.
/// </summary>
public interface IPolicyDecisions
{
    /// <summary>PII handling and block lists for a caller in these teams (and app).</summary>
    ContentDecision Content(IReadOnlyList<string> teamIds, string? appId);

    /// <summary>Whether a listing with these facts complies with the global policies (certifications, regions, providers, models).</summary>
    ListingDecision EvaluateListing(ListingFacts listing);
}

/// <summary>What the catalog knows about a listing that policies judge.</summary>
public sealed record ListingFacts(string Slug, string? Provider, IReadOnlyList<string> Regions, IReadOnlyList<string> Certifications);

public sealed record ListingDecision(bool Allowed, IReadOnlyList<string> Reasons);
