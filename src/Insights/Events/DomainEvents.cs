using LlmMarketplace.Governance.Contracts;

namespace LlmMarketplace.Insights.Events;

/// <summary>
/// Turns committed audit entries of interest into domain events: a listing published, an approval decided, a key
/// revoked, a policy changed. Only ids and the action travel (never personal data or secrets).
/// </summary>
internal sealed class DomainEvents(EventLog log, ILogger<DomainEvents> logger) : IAuditObserver
{
    public async ValueTask AppendedAsync(AuditEntry entry, long sequence, DateTimeOffset at, CancellationToken cancellationToken)
    {
        if (entry.Outcome != "success") return;
        var types = entry.Action switch
        {
            "catalog.version.approved" => ["approval.decided"],
            // Once per version that goes live, whatever the path: the last required approval, a trusted publisher's
            // automatic approval, an import.
            "catalog.version.published" => ["listing.published"],
            "catalog.version.rejected" => ["approval.decided"],
            "key.revoked" => ["key.revoked"],
            _ when entry.Action.StartsWith("policy.", StringComparison.Ordinal) => new[] { "policy.changed" },
            _ => [],
        };
        foreach (var type in types)
        {
            try
            {
                var data = JsonSerializer.SerializeToElement(new
                {
                    action = entry.Action,
                    targetType = entry.TargetType,
                    targetId = entry.TargetId,
                    // Catalog entries name the listing and its version (public catalog facts, not personal data).
                    slug = entry.TargetType is "catalog_version" or "catalog_service" ? Text(entry.After, "slug") : null,
                    version = entry.TargetType == "catalog_version" ? Text(entry.After, "version") : null,
                    actorId = entry.ActorId,
                    decision = entry.Action switch { "catalog.version.approved" => "approved", "catalog.version.rejected" => "rejected", _ => null },
                    auditSequence = sequence,
                    at,
                }, InsightsJson.Options);
                await log.AppendAsync(type, data, CancellationToken.None);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.EventAppendFailed(logger, type, ex);
            }
        }
    }

    private static string? Text(System.Text.Json.Nodes.JsonNode? node, string name) =>
        node is System.Text.Json.Nodes.JsonObject o && o[name] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<string>(out var text) ? text : null;
}
