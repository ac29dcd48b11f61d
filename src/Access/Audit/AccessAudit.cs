using System.Text.Json.Nodes;
using LlmMarketplace.Access.Keys;
using LlmMarketplace.Governance.Contracts;

namespace LlmMarketplace.Access.Audit;

/// <summary>
/// Appends the Access module's state changes (keys, teams, apps, plans, subscriptions, budgets) to the audit trail
/// through <see cref="IAuditLog"/>: who and from where come from the request; before/after are the management DTOs,
/// never a key's secret.
/// </summary>
internal static class AccessAudit
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static Task RecordAsync(HttpContext context, string action, string targetType, string targetId, object? before = null, object? after = null, string outcome = "success") =>
        AppendAsync(context.RequestServices, AuditEntry.ForRequest(context, action, targetType, targetId) with { Before = Snapshot(before), After = Snapshot(after), Outcome = outcome },
            // The change is committed: record it even if the caller has gone away meanwhile.
            CancellationToken.None);

    /// <summary>For changes made outside a request (the command line): the actor is given.</summary>
    public static Task RecordAsync(IServiceProvider services, string actorId, string action, string targetType, string targetId, object? before, object? after, CancellationToken cancellationToken) =>
        AppendAsync(services, new AuditEntry
        {
            Action = action,
            ActorId = actorId,
            ActorKind = "system",
            TargetType = targetType,
            TargetId = targetId,
            Before = Snapshot(before),
            After = Snapshot(after),
        }, cancellationToken);

    private static async Task AppendAsync(IServiceProvider services, AuditEntry entry, CancellationToken cancellationToken)
    {
        // A locator on purpose: this helper serves a dozen static handlers and the command line, which hand over their
        // request's (or command's) services rather than each naming the audit trail. The host always composes it (Governance).
        await services.GetRequiredService<IAuditLog>().AppendAsync(entry, cancellationToken);
    }

    private static JsonNode? Snapshot(object? value) => value switch
    {
        null => null,
        KeyDto key => WithoutSecret(JsonSerializer.SerializeToNode(key with { Key = null }, Json)),
        _ => JsonSerializer.SerializeToNode(value, value.GetType(), Json),
    };

    private static JsonNode? WithoutSecret(JsonNode? node)
    {
        if (node is JsonObject o) o.Remove("key");
        return node;
    }
}
