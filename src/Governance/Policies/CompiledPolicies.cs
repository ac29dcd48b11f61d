using System.Collections.Frozen;
using LlmMarketplace.Catalog.Contracts;
using LlmMarketplace.Governance.Contracts;
using LlmMarketplace.Gateway.Configuration;

namespace LlmMarketplace.Governance.Policies;

/// <summary>Names and glob patterns (<c>*</c> matches any run of characters), matched without allocation.</summary>
internal sealed class NameMatcher
{
    public static readonly NameMatcher None = new([]);

    private readonly FrozenSet<string> _exact;
    private readonly string[] _patterns;

    public NameMatcher(IReadOnlyList<string> names)
    {
        _exact = names.Where(static n => !n.Contains('*', StringComparison.Ordinal)).ToFrozenSet(StringComparer.OrdinalIgnoreCase);
        _patterns = names.Where(static n => n.Contains('*', StringComparison.Ordinal)).ToArray();
        IsEmpty = names.Count == 0;
    }

    public bool IsEmpty { get; }

    public bool Matches(string? value)
    {
        if (value is null) return false;
        if (_exact.Contains(value)) return true;
        foreach (var pattern in _patterns)
        {
            if (Glob(pattern, value)) return true;
        }
        return false;
    }

    private static bool Glob(ReadOnlySpan<char> pattern, ReadOnlySpan<char> value)
    {
        var star = pattern.IndexOf('*');
        if (star < 0) return pattern.Equals(value, StringComparison.OrdinalIgnoreCase);
        if (!value.StartsWith(pattern[..star], StringComparison.OrdinalIgnoreCase)) return false;
        var rest = pattern[(star + 1)..];
        value = value[star..];
        if (rest.IsEmpty) return true;
        for (var i = 0; i <= value.Length; i++)
        {
            if (Glob(rest, value[i..])) return true;
        }
        return false;
    }
}

/// <summary>One enabled policy, ready to evaluate.</summary>
internal sealed class CompiledPolicy(string id, int version, PolicyDocument doc)
{
    public string Id { get; } = id;
    public int Version { get; } = version;
    public string Name { get; } = doc.Name;
    public string Scope { get; } = doc.Scope;
    public string? ScopeId { get; } = doc.ScopeId;
    public string? Reason { get; } = doc.Reason;
    public NameMatcher ModelsAllow { get; } = new(doc.Models.Allow);
    public NameMatcher ModelsDeny { get; } = new(doc.Models.Deny);
    public NameMatcher ProvidersAllow { get; } = new(doc.Providers.Allow);
    public NameMatcher ProvidersDeny { get; } = new(doc.Providers.Deny);
    public NameMatcher ListingsAllow { get; } = new(doc.Listings.Allow);
    public NameMatcher ListingsDeny { get; } = new(doc.Listings.Deny);
    public FrozenSet<string>? Regions { get; } = doc.Regions?.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    public int? MaxClassification { get; } = Classifications.Rank(doc.MaxClassification);
    public IReadOnlyList<string> RequiredCertifications { get; } = doc.RequiredCertifications;
    public bool RequireZeroRetention { get; } = doc.RequireZeroRetention;
    public string OnViolation { get; } = doc.OnViolation;
    public IReadOnlyList<string> BlockList { get; } = doc.BlockList;
    public PiiHandling Pii { get; } = doc.Pii;
    public decimal? BudgetMaxUsd { get; } = doc.BudgetMaxUsd;
    public string? BudgetPeriod { get; } = doc.BudgetPeriod;

    /// <summary>The policy's spending cap, when it sets one.</summary>
    public BudgetCap? Cap { get; } = doc.BudgetMaxUsd is { } max
        ? new BudgetCap($"policy:{id}:v{version}", doc.Scope, doc.ScopeId, max, doc.BudgetPeriod ?? "monthly",
            doc.Reason is null ? $"policy '{doc.Name}'" : $"policy '{doc.Name}': {doc.Reason}")
        : null;

    public bool RestrictsDeployments => !ProvidersAllow.IsEmpty || !ProvidersDeny.IsEmpty || Regions is not null;

    public bool AdmitsDeployment(DeploymentConfig deployment) =>
        !ProvidersDeny.Matches(deployment.Provider)
        && (ProvidersAllow.IsEmpty || ProvidersAllow.Matches(deployment.Provider))
        && (Regions is null || (deployment.Region is { } region && Regions.Contains(region)));

    public string Because => Reason is null ? $"policy '{Name}'" : $"policy '{Name}': {Reason}";

    /// <summary>Whether this policy says anything about listings (re-evaluation skips the others).</summary>
    public bool JudgesListings => !ListingsAllow.IsEmpty || !ListingsDeny.IsEmpty || !ModelsDeny.IsEmpty || !ProvidersAllow.IsEmpty || !ProvidersDeny.IsEmpty
        || Regions is not null || RequiredCertifications.Count > 0 || RequireZeroRetention;

    /// <summary>Why a listing with these facts breaks this policy's listing rules (names, provider, regions, certifications, zero retention); empty when it complies.</summary>
    public List<string> ListingReasons(ListingFacts listing)
    {
        var reasons = new List<string>();
        if (ListingsDeny.Matches(listing.Slug) || ModelsDeny.Matches(listing.Slug)) reasons.Add($"listing '{listing.Slug}' is denied by {Because}");
        if (!ListingsAllow.IsEmpty && !ListingsAllow.Matches(listing.Slug)) reasons.Add($"listing '{listing.Slug}' is not among the listings allowed by {Because}");
        if (listing.Provider is { } provider && (ProvidersDeny.Matches(provider) || (!ProvidersAllow.IsEmpty && !ProvidersAllow.Matches(provider))))
        {
            reasons.Add($"provider '{provider}' is not allowed by {Because}");
        }
        if (Regions is { } regions && !listing.Regions.Any(regions.Contains))
        {
            reasons.Add($"the listing is deployed in none of the regions {string.Join(", ", regions)} required by {Because}");
        }
        reasons.AddRange(RequirementReasons(listing.Certifications, listing.ZeroRetention));
        return reasons;
    }

    /// <summary>The facts a listing must declare for a call to it: the required certifications and zero retention.</summary>
    public IEnumerable<string> RequirementReasons(IReadOnlyList<string> certifications, bool zeroRetention)
    {
        var missing = RequiredCertifications.Where(c => !certifications.Contains(c, StringComparer.OrdinalIgnoreCase)).ToList();
        if (missing.Count > 0) yield return $"the listing lacks the certifications {string.Join(", ", missing)} required by {Because}";
        if (RequireZeroRetention && !zeroRetention) yield return $"the listing does not declare zero data retention, required by {Because}";
    }
}

/// <summary>A sample or real gateway request as the engine sees it.</summary>
public sealed record PolicyRequest(string Model, IReadOnlyList<string> Teams, string? App, string? Classification);

/// <summary>
/// The engine's answer: allowed or not, why, and where the call may be routed. <see cref="Pii"/> and
/// <see cref="BlockedTerms"/> are enforced by the shield; <see cref="BudgetCapUsd"/> (the smallest cap) by Access's budget
/// ledger (<see cref="IPolicyDecisions.BudgetCaps"/>).
/// </summary>
public sealed record PolicyDecision(
    bool Allowed,
    string? Code,
    IReadOnlyList<string> Reasons,
    IReadOnlyList<string>? AllowedDeployments,
    IReadOnlyList<string> Policies,
    PiiHandling Pii,
    IReadOnlyList<string> BlockedTerms,
    decimal? BudgetCapUsd);

/// <summary>
/// The compiled, immutable set of enabled policies: global ones and ones indexed by team and app, so a request only
/// looks at the policies of its own scopes. Swapped atomically when policies change.
/// </summary>
internal sealed class PolicySnapshot
{
    public static readonly PolicySnapshot Empty = new([]);

    /// <summary>The refusal code of a call to a listing that lacks a fact an applicable policy requires.</summary>
    public const string ListingNotCompliant = "listing_not_compliant";

    private readonly CompiledPolicy[] _global;
    private readonly FrozenDictionary<string, CompiledPolicy[]> _byTeam;
    private readonly FrozenDictionary<string, CompiledPolicy[]> _byApp;

    public PolicySnapshot(IReadOnlyList<CompiledPolicy> policies, Exception? fault = null)
    {
        All = policies;
        Fault = fault;
        HasBudgetCaps = policies.Any(static p => p.Cap is not null);
        _global = policies.Where(static p => p.Scope == "global").ToArray();
        _byTeam = policies.Where(static p => p.Scope == "team").GroupBy(static p => p.ScopeId!, StringComparer.Ordinal)
            .ToFrozenDictionary(static g => g.Key, static g => g.ToArray(), StringComparer.Ordinal);
        _byApp = policies.Where(static p => p.Scope == "app").GroupBy(static p => p.ScopeId!, StringComparer.Ordinal)
            .ToFrozenDictionary(static g => g.Key, static g => g.ToArray(), StringComparer.Ordinal);
    }

    public IReadOnlyList<CompiledPolicy> All { get; }

    /// <summary>Whether any enabled policy sets a spending cap (most snapshots: none, and the gateway path skips them).</summary>
    public bool HasBudgetCaps { get; }

    /// <summary>Set when the policies could not be compiled; evaluation then fails (closed or open, as configured).</summary>
    public Exception? Fault { get; }

    public List<CompiledPolicy> Applicable(IReadOnlyList<string> teams, string? app)
    {
        var result = new List<CompiledPolicy>(_global.Length + 2);
        result.AddRange(_global);
        foreach (var team in teams)
        {
            if (_byTeam.TryGetValue(team, out var p)) result.AddRange(p);
        }
        if (app is not null && _byApp.TryGetValue(app, out var a)) result.AddRange(a);
        return result;
    }

    /// <summary>Decides a gateway call: deny rules win; allow lists of every applicable policy must all admit the model; regions and providers narrow the deployments.</summary>
    public PolicyDecision Evaluate(PolicyRequest request, IReadOnlyList<DeploymentConfig>? deployments, int classificationRank, ListingCompliance? listing = null)
    {
        if (Fault is not null)
        {
            throw new InvalidOperationException("The policies could not be compiled.", Fault);
        }
        var applicable = Applicable(request.Teams, request.App);
        if (applicable.Count == 0)
        {
            return new PolicyDecision(true, null, [], null, [], PiiHandling.Unspecified, [], null);
        }
        var reasons = new List<string>();
        string? code = null;
        var pii = PiiHandling.Unspecified;
        decimal? budget = null;
        List<string>? blocked = null;
        var restricts = false;
        foreach (var p in applicable)
        {
            if (p.ModelsDeny.Matches(request.Model) || p.ListingsDeny.Matches(request.Model))
            {
                code ??= "model_not_allowed";
                reasons.Add($"model '{request.Model}' is denied by {p.Because}");
            }
            else if ((!p.ModelsAllow.IsEmpty && !p.ModelsAllow.Matches(request.Model)) || (!p.ListingsAllow.IsEmpty && !p.ListingsAllow.Matches(request.Model)))
            {
                code ??= "model_not_allowed";
                reasons.Add($"model '{request.Model}' is not among the models allowed by {p.Because}");
            }
            if (p.MaxClassification is { } max && classificationRank > max)
            {
                code ??= "classification_not_allowed";
                reasons.Add($"data classified '{Classifications.Levels[classificationRank]}' may not be sent; {p.Because} allows at most '{Classifications.Levels[max]}'");
            }
            if (listing is not null)
            {
                foreach (var missing in p.RequirementReasons(listing.Certifications, listing.ZeroRetention))
                {
                    code ??= ListingNotCompliant;
                    reasons.Add(missing);
                }
            }
            restricts |= p.RestrictsDeployments;
            if (p.Pii > pii) pii = p.Pii;
            if (p.BudgetMaxUsd is { } cap && (budget is null || cap < budget)) budget = cap;
            if (p.BlockList.Count > 0) (blocked ??= []).AddRange(p.BlockList);
        }

        List<string>? allowedDeployments = null;
        if (code is null && restricts && deployments is not null)
        {
            allowedDeployments = new List<string>(deployments.Count);
            foreach (var d in deployments)
            {
                var admitted = true;
                foreach (var p in applicable)
                {
                    if (p.RestrictsDeployments && !p.AdmitsDeployment(d))
                    {
                        admitted = false;
                        break;
                    }
                }
                if (admitted) allowedDeployments.Add(d.Id);
            }
            var restricting = applicable.Where(static p => p.RestrictsDeployments).Select(static p => p.Because);
            if (allowedDeployments.Count == 0)
            {
                code = "no_compliant_deployment";
                reasons.Add($"no deployment of model '{request.Model}' satisfies the region and provider rules of {string.Join("; ", restricting)}");
            }
            else
            {
                reasons.Add($"routed only to deployments {string.Join(", ", allowedDeployments)} by {string.Join("; ", restricting)}");
            }
        }
        return new PolicyDecision(code is null, code, reasons, code is null ? allowedDeployments : null, applicable.Select(static p => p.Name).ToList(),
            pii, (IReadOnlyList<string>?)blocked ?? [], budget);
    }
}
