using LlmMarketplace.BuildingBlocks.Distributed;
using LlmMarketplace.Governance.Contracts;

namespace LlmMarketplace.Governance.Policies;

/// <summary>
/// Holds the compiled policy snapshot and rebuilds it from the database when policies change. If stored policies
/// cannot be compiled, the snapshot is faulted: gateway calls are refused (fail-closed) unless
/// <c>Governance:PolicyFailOpen</c> is set.
/// </summary>
internal sealed class PolicyEngine(Database database, GovernanceOptions options, IEnumerable<IPolicyChangeListener> listeners, ILogger<PolicyEngine> logger,
    IInvalidationBus? bus = null) : ReplicatedSnapshot(PolicyEngine.Topic, bus), IPolicyDecisions
{
    /// <summary>The invalidation topic of policies: a change on one replica recompiles them on every replica.</summary>
    public const string Topic = "policies";

    private volatile PolicySnapshot _snapshot = PolicySnapshot.Empty;

    public PolicySnapshot Snapshot => _snapshot;

    public int DefaultClassificationRank { get; } = Classifications.Rank(options.DefaultClassification) ?? 1;

    /// <summary>Compiles the enabled policies; recompiled after a change made here and on another replica's message.</summary>
    protected override async Task LoadAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            var rows = await connection.QueryAsync<(string Id, long Version, string Document)>(new CommandDefinition(
                """
                SELECT p.id, v.version, v.document FROM gov_policies p
                JOIN gov_policy_versions v ON v.policy_id = p.id AND v.version = p.current_version
                WHERE p.enabled = 1 AND p.deleted_at IS NULL
                ORDER BY p.name
                """, cancellationToken: cancellationToken));
            var compiled = new List<CompiledPolicy>();
            foreach (var (id, version, text) in rows)
            {
                var errors = new ValidationErrors();
                var doc = PolicyDocumentParser.Validate(PolicyDocumentParser.ReadText(text, errors), errors)
                    ?? throw new InvalidDataException($"Stored policy {id} v{version} does not validate: {errors}");
                compiled.Add(new CompiledPolicy(id, (int)version, doc));
            }
            _snapshot = new PolicySnapshot(compiled);
            Log.PoliciesCompiled(logger, compiled.Count);
            foreach (var listener in listeners)
            {
                try
                {
                    await listener.PoliciesChangedAsync(this, cancellationToken);
                }
                catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or TimeoutException)
                {
                    Log.PolicyListenerFailed(logger, ex, listener.GetType().Name);
                }
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or System.Data.Common.DbException)
        {
            _snapshot = new PolicySnapshot([], ex);
            Log.PoliciesFaulted(logger, ex, options.PolicyFailOpen ? "fail-open" : "fail-closed");
        }
    }

    public ContentDecision Content(IReadOnlyList<string> teamIds, string? appId)
    {
        var applicable = _snapshot.Applicable(teamIds, appId);
        var pii = PiiHandling.Unspecified;
        string? piiSource = null;
        var terms = new List<string>();
        var reasons = new List<string>();
        Dictionary<string, string>? sources = null;
        foreach (var p in applicable)
        {
            if (p.Pii > pii)
            {
                pii = p.Pii;
                piiSource = p.Because;
            }
            terms.AddRange(p.BlockList);
            foreach (var term in p.BlockList) (sources ??= new(StringComparer.OrdinalIgnoreCase)).TryAdd(term, p.Because);
            if (p.Pii != PiiHandling.Unspecified || p.BlockList.Count > 0) reasons.Add(p.Because);
        }
        return new ContentDecision(pii, terms.Distinct(StringComparer.OrdinalIgnoreCase).ToList(), reasons) { PiiSource = piiSource, TermSources = sources };
    }

    public IReadOnlyList<BudgetCap> BudgetCaps(IReadOnlyList<string> teamIds, string? appId)
    {
        var snapshot = _snapshot;
        if (!snapshot.HasBudgetCaps) return [];
        List<BudgetCap>? caps = null;
        foreach (var p in snapshot.Applicable(teamIds, appId))
        {
            if (p.Cap is { } cap) (caps ??= []).Add(cap);
        }
        return caps ?? (IReadOnlyList<BudgetCap>)[];
    }

    public IReadOnlyList<BudgetCap> AllBudgetCaps()
    {
        var snapshot = _snapshot;
        return snapshot.HasBudgetCaps ? snapshot.All.Where(static p => p.Cap is not null).Select(static p => p.Cap!).ToList() : [];
    }

    public ListingDecision EvaluateListing(ListingFacts listing)
    {
        var reasons = new List<string>();
        foreach (var p in _snapshot.Applicable([], null)) reasons.AddRange(p.ListingReasons(listing));
        return new ListingDecision(reasons.Count == 0, reasons);
    }
}
