using System.Collections.Frozen;
using System.Text.Json.Nodes;
using LlmMarketplace.Governance.Contracts;
using LlmMarketplace.Catalog.Contracts;

namespace LlmMarketplace.Governance.Policies;

/// <summary>A stored violation: a live listing version that breaks a global policy's listing rules.</summary>
internal sealed class ViolationRow
{
    public string ListingId { get; set; } = "";
    public string Version { get; set; } = "";
    public string PolicyId { get; set; } = "";
    public string Slug { get; set; } = "";
    public string PolicyName { get; set; } = "";
    public long PolicyVersion { get; set; }
    public string Action { get; set; } = "";
    public string Reasons { get; set; } = "[]";
    public string Status { get; set; } = "";
    public long DetectedAt { get; set; }
    public long? ResolvedAt { get; set; }

    public string Listing => $"{Slug}@{Version}";

    public ViolationDto ToDto() => new(ListingId, Slug, Version, PolicyId, PolicyName, PolicyVersion, Action, Status,
        Status == ComplianceMonitor.Open && Action == ViolationActions.Suspend,
        JsonSerializer.Deserialize<List<string>>(Reasons) ?? [],
        DateTimeOffset.FromUnixTimeMilliseconds(DetectedAt), ResolvedAt is { } r ? DateTimeOffset.FromUnixTimeMilliseconds(r) : null);
}

/// <summary>A violation as <c>GET /api/v1/governance/compliance/violations</c> answers it.</summary>
public sealed record ViolationDto(
    string ListingId, string Slug, string Version, string PolicyId, string PolicyName, long PolicyVersion, string Action, string Status,
    bool Suspended, IReadOnlyList<string> Reasons, DateTimeOffset DetectedAt, DateTimeOffset? ResolvedAt);

public sealed record ViolationPage(IReadOnlyList<ViolationDto> Data, long Total);

/// <summary>
/// Keeps live listings true to the global policies: each time the policies load (a change on any replica, the periodic
/// catch-up, a reload) every routable catalog listing version is judged by every enabled global policy with listing rules
/// (names, providers, regions, certifications, zero retention). A new violation is recorded and audited, and suspends the
/// listing version where the policy says <c>onViolation: suspend</c>; a violation whose listing complies again, or whose
/// policy was lifted, is resolved (reinstating a suspended listing) and audited. Every write is a compare-and-set on the
/// stored state, so replicas re-evaluating the same change record and audit it once. The suspended listing versions are
/// held in memory for the gateway's policy stage.
/// </summary>
internal sealed class ComplianceMonitor(Database database, IAuditLog audit, TimeProvider time, IServiceProvider services, ILogger<ComplianceMonitor> logger)
    : IPolicyChangeListener
{
    public const string Open = "open";
    public const string Resolved = "resolved";

    /// <summary>The listings of the gateway's own configuration: the operator's, with no declared facts; never judged.</summary>
    public const string PlatformPublisher = "platform";

    private const string Columns = """
        listing_id AS ListingId, version AS Version, policy_id AS PolicyId, slug AS Slug, policy_name AS PolicyName, policy_version AS PolicyVersion,
        action AS Action, reasons AS Reasons, status AS Status, detected_at AS DetectedAt, resolved_at AS ResolvedAt
        """;

    private volatile FrozenDictionary<string, string> _suspended = FrozenDictionary<string, string>.Empty;

    /// <summary>Why the listing version is suspended (the policies' reasons), or null when it is not.</summary>
    public string? Suspension(string listingId, string version)
    {
        var suspended = _suspended;
        return suspended.Count > 0 && suspended.TryGetValue(Key(listingId, version), out var why) ? why : null;
    }

    public async Task PoliciesChangedAsync(IPolicyDecisions decisions, CancellationToken cancellationToken)
    {
        if (decisions is PolicyEngine { Snapshot: { Fault: null } snapshot } && services.GetService<IListingDirectory>() is { } directory)
        {
            await ReevaluateAsync(snapshot, directory.All(), cancellationToken);
        }
        await LoadSuspensionsAsync(cancellationToken);
    }

    private async Task ReevaluateAsync(PolicySnapshot snapshot, IReadOnlyList<ListingTargets> listings, CancellationToken ct)
    {
        var policies = snapshot.Applicable([], null).Where(static p => p.JudgesListings).ToList();
        var live = listings.Where(static l => l.Publisher != PlatformPublisher).ToList();
        var liveKeys = live.Select(static l => Key(l.ListingId, l.Version)).ToHashSet(StringComparer.Ordinal);
        var wanted = new Dictionary<(string, string, string), (ListingTargets Listing, CompiledPolicy Policy, List<string> Reasons)>();
        foreach (var listing in live)
        {
            var c = listing.Compliance;
            var facts = new ListingFacts(listing.Slug, null, c.Regions, c.Certifications) { ZeroRetention = c.ZeroRetention };
            foreach (var policy in policies)
            {
                var reasons = policy.ListingReasons(facts);
                foreach (var provider in c.Providers) reasons.AddRange(policy.ListingReasons(facts with { Provider = provider }));
                if (reasons.Count > 0) wanted[(listing.ListingId, listing.Version, policy.Id)] = (listing, policy, reasons.Distinct(StringComparer.Ordinal).ToList());
            }
        }

        await using var connection = await database.OpenAsync(ct);
        // A snapshot read just before another replica's change would undo that replica's findings: judge only by the stored policies.
        var stored = await connection.QueryAsync<(string Id, long Version)>(new CommandDefinition(
            "SELECT id, current_version FROM gov_policies WHERE enabled = 1 AND deleted_at IS NULL", cancellationToken: ct));
        if (!stored.ToHashSet().SetEquals(snapshot.All.Select(static p => (p.Id, (long)p.Version)))) return;
        var open = (await connection.QueryAsync<ViolationRow>(new CommandDefinition(
            $"SELECT {Columns} FROM gov_compliance_violations WHERE status = 'open'", cancellationToken: ct)))
            .ToDictionary(static r => (r.ListingId, r.Version, r.PolicyId));
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var judging = policies.Select(static p => p.Id).ToHashSet(StringComparer.Ordinal);

        foreach (var ((listingId, version, policyId), (listing, policy, reasons)) in wanted)
        {
            var reasonsJson = JsonSerializer.Serialize(reasons);
            if (!open.TryGetValue((listingId, version, policyId), out var existing))
            {
                // Opens it, or opens it again after it was resolved; 0 rows when another replica opened it first.
                var opened = await connection.ExecuteAsync(new CommandDefinition(
                    """
                    INSERT INTO gov_compliance_violations (listing_id, version, policy_id, slug, policy_name, policy_version, action, reasons, status, detected_at, resolved_at)
                    VALUES (@listingId, @version, @policyId, @slug, @name, @policyVersion, @action, @reasons, 'open', @now, NULL)
                    ON CONFLICT (listing_id, version, policy_id) DO UPDATE SET slug = excluded.slug, policy_name = excluded.policy_name,
                        policy_version = excluded.policy_version, action = excluded.action, reasons = excluded.reasons, status = 'open',
                        detected_at = excluded.detected_at, resolved_at = NULL
                    WHERE gov_compliance_violations.status = 'resolved'
                    """,
                    new { listingId, version, policyId, slug = listing.Slug, name = policy.Name, policyVersion = (long)policy.Version, action = policy.OnViolation, reasons = reasonsJson, now },
                    cancellationToken: ct));
                if (opened != 1) continue;
                Log.ListingViolation(logger, listing.Name, policy.Name, policy.OnViolation);
                await AuditAsync("compliance.violation_detected", listing.ListingId, listing.Slug, version, policy, reasons, ct);
                if (policy.OnViolation == ViolationActions.Suspend) await AuditAsync("compliance.listing_suspended", listing.ListingId, listing.Slug, version, policy, reasons, ct);
                continue;
            }
            if (existing.Action == policy.OnViolation && existing.PolicyVersion == policy.Version && existing.Reasons == reasonsJson) continue;
            // A new version of the policy, or new reasons: update what is stored; a changed action suspends or reinstates.
            var updated = await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE gov_compliance_violations SET policy_name = @name, policy_version = @policyVersion, action = @action, reasons = @reasons
                WHERE listing_id = @listingId AND version = @version AND policy_id = @policyId AND status = 'open'
                  AND action = @oldAction AND policy_version = @oldVersion AND reasons = @oldReasons
                """,
                new { listingId, version, policyId, name = policy.Name, policyVersion = (long)policy.Version, action = policy.OnViolation, reasons = reasonsJson,
                    oldAction = existing.Action, oldVersion = existing.PolicyVersion, oldReasons = existing.Reasons },
                cancellationToken: ct));
            if (updated == 1 && existing.Action != policy.OnViolation)
            {
                await AuditAsync(policy.OnViolation == ViolationActions.Suspend ? "compliance.listing_suspended" : "compliance.listing_reinstated",
                    listing.ListingId, listing.Slug, version, policy, reasons, ct);
            }
        }

        foreach (var (key, row) in open)
        {
            if (wanted.ContainsKey(key)) continue;
            // A listing this replica does not see (retired, or the catalog not loaded yet) keeps its violation while the policy stands.
            if (!liveKeys.Contains(Key(row.ListingId, row.Version)) && judging.Contains(row.PolicyId)) continue;
            var resolved = await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE gov_compliance_violations SET status = 'resolved', resolved_at = @now
                WHERE listing_id = @ListingId AND version = @Version AND policy_id = @PolicyId AND status = 'open'
                """,
                new { row.ListingId, row.Version, row.PolicyId, now }, cancellationToken: ct));
            if (resolved != 1) continue;
            Log.ListingViolationResolved(logger, row.Listing, row.PolicyName);
            var after = new JsonObject { ["slug"] = row.Slug, ["version"] = row.Version, ["policyId"] = row.PolicyId, ["policy"] = row.PolicyName };
            await audit.AppendAsync(Entry("compliance.violation_resolved", row.ListingId, row.Version, after), ct);
            if (row.Action == ViolationActions.Suspend) await audit.AppendAsync(Entry("compliance.listing_reinstated", row.ListingId, row.Version, (JsonObject)after.DeepClone()), ct);
        }
    }

    private async Task LoadSuspensionsAsync(CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<ViolationRow>(new CommandDefinition(
            $"SELECT {Columns} FROM gov_compliance_violations WHERE status = 'open' AND action = 'suspend' ORDER BY policy_name", cancellationToken: ct));
        _suspended = rows.GroupBy(static r => Key(r.ListingId, r.Version), StringComparer.Ordinal)
            .ToFrozenDictionary(static g => g.Key, static g => string.Join("; ", g.SelectMany(static r => JsonSerializer.Deserialize<List<string>>(r.Reasons) ?? [])), StringComparer.Ordinal);
    }

    /// <summary>Stored violations, newest first.</summary>
    public async Task<(List<ViolationRow> Rows, long Total)> QueryAsync(string? status, string? listing, string? policy, int limit, int offset, CancellationToken ct)
    {
        var where = new List<string>();
        if (status is Open or Resolved) where.Add("status = @status");
        if (listing is not null) where.Add("(listing_id = @listing OR slug = @listing)");
        if (policy is not null) where.Add("(policy_id = @policy OR policy_name = @policy)");
        var filter = where.Count == 0 ? "" : "WHERE " + string.Join(" AND ", where);
        var args = new { status, listing, policy, limit, offset };
        await using var connection = await database.OpenAsync(ct);
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition($"SELECT COUNT(*) FROM gov_compliance_violations {filter}", args, cancellationToken: ct));
        var rows = await connection.QueryAsync<ViolationRow>(new CommandDefinition(
            $"SELECT {Columns} FROM gov_compliance_violations {filter} ORDER BY detected_at DESC, slug, version, policy_name LIMIT @limit OFFSET @offset", args, cancellationToken: ct));
        return (rows.ToList(), total);
    }

    private Task<long> AuditAsync(string action, string listingId, string slug, string version, CompiledPolicy policy, List<string> reasons, CancellationToken ct) =>
        audit.AppendAsync(Entry(action, listingId, version, new JsonObject
        {
            ["slug"] = slug,
            ["version"] = version,
            ["policyId"] = policy.Id,
            ["policy"] = policy.Name,
            ["policyVersion"] = policy.Version,
            ["action"] = policy.OnViolation,
            ["reasons"] = new JsonArray(reasons.Select(static r => (JsonNode?)JsonValue.Create(r)).ToArray()),
        }), ct);

    private static AuditEntry Entry(string action, string listingId, string version, JsonObject after) => new()
    {
        Action = action,
        ActorId = "compliance",
        TargetType = "catalog_version",
        TargetId = $"{listingId}@{version}",
        After = after,
    };

    private static string Key(string listingId, string version) => listingId + "@" + version;
}
