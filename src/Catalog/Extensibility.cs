using LlmMarketplace.Governance.Contracts;
namespace LlmMarketplace.Catalog;

/// <summary>A catalog step worth recording: publishing, approvals, lifecycle transitions, imports, reviews.</summary>
public sealed record CatalogAuditEvent(string Action, string? ServiceId, string? Slug, string? Version, string Actor, string? Reason, DateTimeOffset At);

/// <summary>
/// Where the catalog sends its audit trail and notifications. The default does nothing; the governance module
/// registers an implementation that appends to its tamper-evident audit log.
/// </summary>
public interface ICatalogAuditSink
{
    ValueTask RecordAsync(CatalogAuditEvent auditEvent, CancellationToken cancellationToken);
}

/// <summary>
/// The policy layer of listing validation (for example: which data classifications a team may publish, required
/// certifications). Add problems to <c>errors</c> with the JSON path of the field. The default allows everything;
/// the governance module registers its policies here.
/// </summary>
public interface ICatalogPublishPolicy
{
    ValueTask EvaluateAsync(ListingSpec listing, ClaimsPrincipal publisher, ValidationErrors errors, CancellationToken cancellationToken);
}

/// <summary>
/// Judges a listing by the platform's global policies (<see cref="IPolicyDecisions"/>: denied or
/// allowed listings and providers, required certifications, data residency regions) when the governance module is
/// present. Listing-wide reasons are reported under <c>policy</c>; a provider a policy refuses under that deployment's
/// <c>deployments[i].provider</c>.
/// </summary>
internal sealed class PolicyPublishPolicy(IPolicyDecisions decisions) : ICatalogPublishPolicy
{
    public ValueTask EvaluateAsync(ListingSpec listing, ClaimsPrincipal publisher, ValidationErrors errors, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(listing.Slug)) return ValueTask.CompletedTask;
        var deployments = listing.Deployments ?? [];
        var regions = deployments.SelectMany(static d => new[] { d.Region, d.DataResidency })
            .Where(static r => !string.IsNullOrWhiteSpace(r)).Select(static r => r!).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var certifications = listing.Compliance?.Certifications?.Where(static c => !string.IsNullOrWhiteSpace(c)).ToList() ?? [];

        var zeroRetention = listing.Compliance?.ZeroRetention == true;
        var general = decisions.EvaluateListing(new ListingFacts(listing.Slug, null, regions, certifications) { ZeroRetention = zeroRetention });
        var reported = new HashSet<string>(general.Reasons, StringComparer.Ordinal);
        foreach (var reason in general.Reasons) errors.Add("policy", reason);
        for (var i = 0; i < deployments.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(deployments[i].Provider)) continue;
            var decision = decisions.EvaluateListing(new ListingFacts(listing.Slug, deployments[i].Provider, regions, certifications) { ZeroRetention = zeroRetention });
            foreach (var reason in decision.Reasons)
            {
                if (!reported.Contains(reason)) errors.Add($"deployments[{i}].provider", reason);
            }
        }
        return ValueTask.CompletedTask;
    }
}

/// <summary>Writes catalog steps into the platform audit trail (<see cref="IAuditLog"/>) when one is registered.</summary>
internal sealed class AuditLogCatalogSink(IAuditLog log) : ICatalogAuditSink
{
    public async ValueTask RecordAsync(CatalogAuditEvent auditEvent, CancellationToken cancellationToken)
    {
        var (kind, id) = auditEvent.Actor.IndexOf(':', StringComparison.Ordinal) is var colon and > 0
            ? (auditEvent.Actor[..colon], auditEvent.Actor[(colon + 1)..])
            : (auditEvent.Actor == "master_key" ? BuildingBlocks.Security.MarketplaceClaims.MasterKey : "system", auditEvent.Actor == "master_key" ? "master-key" : auditEvent.Actor);
        await log.AppendAsync(new AuditEntry
        {
            Action = auditEvent.Action,
            ActorId = id,
            ActorKind = kind switch { "user" => BuildingBlocks.Security.MarketplaceClaims.AccessToken, "key" => BuildingBlocks.Security.MarketplaceClaims.ApiKeyCredential, _ => kind },
            TargetType = auditEvent.Version is null ? "catalog_service" : "catalog_version",
            TargetId = auditEvent.Version is null ? auditEvent.ServiceId : $"{auditEvent.ServiceId}@{auditEvent.Version}",
            After = new System.Text.Json.Nodes.JsonObject { ["slug"] = auditEvent.Slug, ["version"] = auditEvent.Version, ["reason"] = auditEvent.Reason },
        }, cancellationToken);
    }
}
