using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using LlmMarketplace.Governance.Contracts;
using LlmMarketplace.BuildingBlocks.Security;

namespace LlmMarketplace.Governance.Identity;

/// <summary>
/// Audits sign-ins that have no endpoint of their own: the master key, API keys and service-account tokens (accepted on
/// every request) and bearer credentials no validator accepted, as <c>auth.login</c> entries with <c>after.method</c>. A
/// credential sent with every request would otherwise write one entry per call (and a stream of wrong keys could flood
/// the trail), so each (method, outcome, address, and for an accepted key or token its actor) is recorded at most once
/// per <see cref="GovernanceOptions.SignInAuditInterval"/>. An entry that cannot be written (the database is down, or
/// held by another writer past the lock wait) does not fail the request it came with: the failure is logged and the
/// next request with the same credential records it.
/// </summary>
internal sealed class SignInAudit(IAuditLog audit, GovernanceOptions options, TimeProvider time, ILogger<SignInAudit> logger) : ISignInAudit
{
    private const int MaxRemembered = 10_000;
    private readonly ConcurrentDictionary<string, long> _lastRecordedMs = new(StringComparer.Ordinal);

    public ValueTask MasterKeyAcceptedAsync(HttpContext context) =>
        RecordAsync(context, "master_key", "success", "master-key", MarketplaceClaims.MasterKey, null);

    public ValueTask CredentialAcceptedAsync(HttpContext context, string method, ClaimsPrincipal principal) =>
        RecordAsync(context, method, "success", CallerIdentity.ActorIdOf(principal), principal.FindFirst(MarketplaceClaims.CredentialKind)?.Value ?? method, null);

    public ValueTask CredentialRefusedAsync(HttpContext context, string method, string reason) =>
        RecordAsync(context, method, "failure", "anonymous", "anonymous", reason);

    private async ValueTask RecordAsync(HttpContext context, string method, string outcome, string actorId, string actorKind, string? reason)
    {
        var ip = context.Connection.RemoteIpAddress?.ToString();
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        var key = $"{method}|{outcome}|{ip}|{actorId}";
        var intervalMs = (long)options.SignInAuditInterval.TotalMilliseconds;
        if (_lastRecordedMs.TryGetValue(key, out var last) && nowMs - last < intervalMs) return;
        if (_lastRecordedMs.Count >= MaxRemembered) _lastRecordedMs.Clear();
        // Only the caller that moves the mark records; a burst of concurrent requests writes one entry.
        if (last == 0 ? !_lastRecordedMs.TryAdd(key, nowMs) : !_lastRecordedMs.TryUpdate(key, nowMs, last)) return;
        var after = new JsonObject { ["method"] = method };
        if (reason is not null) after["reason"] = reason;
        try
        {
            await audit.AppendAsync(new AuditEntry
            {
                Action = "auth.login",
                Outcome = outcome,
                ActorId = actorId,
                ActorKind = actorKind,
                Ip = ip,
                After = after,
            }, CancellationToken.None);
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or TimeoutException)
        {
            _lastRecordedMs.TryRemove(new KeyValuePair<string, long>(key, nowMs));
            Log.SignInAuditFailed(logger, method, outcome, ex);
        }
    }
}
