using System.Text.Json.Nodes;
using LlmMarketplace.BuildingBlocks.Security;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Governance.Contracts;

/// <summary>
/// The tamper-evident audit trail. Every state change appends one entry; entries are never updated or deleted.
/// Governance implements it as a SHA-256 hash chain.
/// </summary>
public interface IAuditLog
{
    /// <summary>Appends an entry durably (serialized with every other append) and returns its sequence number.</summary>
    Task<long> AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default);
}

/// <summary>
/// One state change: who (<see cref="ActorId"/>, an id, never a name), what (<see cref="Action"/> on a target),
/// from where (<see cref="Ip"/>), and the state before and after. Keep personal data out of
/// <see cref="Before"/>/<see cref="After"/>: reference people by id so erasure never touches the chain.
/// </summary>
public sealed record AuditEntry
{
    /// <summary>A dotted verb such as <c>user.created</c>, <c>key.revoked</c>, <c>auth.login_failed</c>.</summary>
    public required string Action { get; init; }

    /// <summary><c>success</c> or <c>failure</c>.</summary>
    public string Outcome { get; init; } = "success";

    /// <summary>The caller's id: a user id, a key id, <c>master-key</c> or <c>system</c>.</summary>
    public string ActorId { get; init; } = "system";

    /// <summary>How the caller authenticated (<see cref="MarketplaceClaims.CredentialKind"/>), or <c>system</c>.</summary>
    public string ActorKind { get; init; } = "system";

    public string? TargetType { get; init; }

    public string? TargetId { get; init; }

    public string? Ip { get; init; }

    public JsonNode? Before { get; init; }

    public JsonNode? After { get; init; }

    /// <summary>An entry for a change made by the caller of the current request.</summary>
    public static AuditEntry ForRequest(HttpContext context, string action, string? targetType = null, string? targetId = null) => new()
    {
        Action = action,
        ActorId = CallerIdentity.ActorIdOf(context.User),
        ActorKind = context.User.FindFirst(MarketplaceClaims.CredentialKind)?.Value ?? (context.User.Identity?.IsAuthenticated == true ? "unknown" : "anonymous"),
        Ip = context.Connection.RemoteIpAddress?.ToString(),
        TargetType = targetType,
        TargetId = targetId,
    };
}
