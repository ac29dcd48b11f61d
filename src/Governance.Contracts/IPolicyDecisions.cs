using System.Text.Json.Serialization;

namespace LlmMarketplace.Governance.Contracts;

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

    /// <summary>The spending caps of the policies that apply to a caller in these teams (and app); empty when none sets one.</summary>
    IReadOnlyList<BudgetCap> BudgetCaps(IReadOnlyList<string> teamIds, string? appId);

    /// <summary>Every enabled policy's spending cap.</summary>
    IReadOnlyList<BudgetCap> AllBudgetCaps();
}

/// <summary>
/// Told, and awaited, each time the policy engine has loaded a new set of policies (at start and after every change),
/// before the change is acknowledged: for example Access reads the spend already recorded under new spending caps.
/// </summary>
public interface IPolicyChangeListener
{
    Task PoliciesChangedAsync(IPolicyDecisions decisions, CancellationToken cancellationToken);
}

/// <summary>
/// A policy's spending cap (<c>rules.budget</c>): at most <see cref="MaxUsd"/> per <see cref="Period"/> (<c>daily</c>,
/// <c>monthly</c> or <c>total</c>) over everything spent in the policy's scope: all calls for a global policy, the team's
/// or the app's calls otherwise. <see cref="Id"/> changes with the policy's version.
/// </summary>
public sealed record BudgetCap(string Id, string Scope, string? ScopeId, decimal MaxUsd, string Period, string Because);

/// <summary>What the catalog knows about a listing that policies judge.</summary>
public sealed record ListingFacts(string Slug, string? Provider, IReadOnlyList<string> Regions, IReadOnlyList<string> Certifications)
{
    /// <summary>Whether the listing declares that it keeps no data (<c>compliance.zeroRetention</c>).</summary>
    public bool ZeroRetention { get; init; }
}

public sealed record ListingDecision(bool Allowed, IReadOnlyList<string> Reasons);
