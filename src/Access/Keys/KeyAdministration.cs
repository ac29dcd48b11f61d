using LlmMarketplace.Access.Audit;
using LlmMarketplace.Access.Teams;

namespace LlmMarketplace.Access.Keys;

/// <summary>Key administration for the command line: works on the storage directly, as a super admin.</summary>
public static class KeyAdministration
{
    private static readonly CallerIdentity Operator = CallerIdentity.From(new ClaimsPrincipal(new ClaimsIdentity(
        [new Claim(ClaimTypes.NameIdentifier, "cli"), new Claim(ClaimTypes.Role, Roles.SuperAdmin)], "cli")));

    public static async Task<(KeyDto? Key, IReadOnlyList<string> Errors)> CreateAsync(IServiceProvider services, CreateKeyRequest request, CancellationToken cancellationToken)
    {
        await services.GetRequiredService<AccessDirectory>().ReloadAsync(cancellationToken);
        var (key, errors, _) = await services.GetRequiredService<KeyService>().CreateAsync(request, Operator, cancellationToken);
        if (key is not null) await AccessAudit.RecordAsync(services, "cli", "key.created", "api_key", key.Id, null, key, cancellationToken);
        return (key, errors.Lines().ToList());
    }

    /// <summary>The keys, each with the names of its team and app (people read names, not ids).</summary>
    public static async Task<IReadOnlyList<(KeyDto Key, string? TeamName, string? AppName)>> ListAsync(IServiceProvider services, bool includeRevoked, CancellationToken cancellationToken)
    {
        var directory = services.GetRequiredService<AccessDirectory>();
        await directory.ReloadAsync(cancellationToken);
        var keys = services.GetRequiredService<KeyService>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow().ToUnixTimeMilliseconds();
        var rows = (await keys.AllRowsAsync(cancellationToken)).Where(r => includeRevoked || r.RevokedAtMs is null || r.RevokedAtMs > now);
        var snapshot = directory.Current;
        return keys.List(Operator, snapshot, rows)
            .Select(k => (k, k.Team is { } t ? snapshot.Teams.GetValueOrDefault(t)?.Name : null, k.App is { } a ? snapshot.Apps.GetValueOrDefault(a)?.Name : null))
            .ToList();
    }

    /// <summary>Revokes a key; null when no key has that id.</summary>
    public static async Task<KeyDto?> RevokeAsync(IServiceProvider services, string id, CancellationToken cancellationToken)
    {
        var directory = services.GetRequiredService<AccessDirectory>();
        await directory.ReloadAsync(cancellationToken);
        var keys = services.GetRequiredService<KeyService>();
        var existing = await keys.FindRowAsync(id, cancellationToken);
        var row = await keys.RevokeAsync(id, "cli", cancellationToken);
        if (row is null) return null;
        var after = keys.ToDto(row, directory.Current);
        await AccessAudit.RecordAsync(services, "cli", "key.revoked", "api_key", id, existing is null ? null : keys.ToDto(existing, directory.Current), after, cancellationToken);
        return after;
    }
}
