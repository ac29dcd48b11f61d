using System.Collections.Frozen;
using LlmMarketplace.BuildingBlocks.Distributed;

namespace LlmMarketplace.Access.Keys;

/// <summary>An API key as the hot path sees it: resolved once per directory load, with its principal built ahead.</summary>
internal sealed record KeyEntry(
    KeyRow Row,
    FrozenSet<string>? Models,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt,
    ClaimsPrincipal Principal)
{
    public string Id => Row.Id;

    /// <summary>The key's rate-limit bucket, named once rather than on every call.</summary>
    public string Bucket { get; } = "key:" + Row.Id;

    public bool IsActive(DateTimeOffset now) => (ExpiresAt is null || ExpiresAt > now) && (RevokedAt is null || RevokedAt > now);
}

/// <summary>
/// Everything the hot path needs (keys by hash, teams, apps, budgets, plans, subscriptions), as an immutable snapshot
/// swapped atomically after every change and on a refresh interval. No request touches the database for it.
/// </summary>
internal sealed class AccessDirectory(AccessStore store, Budgets.BudgetLedger ledger, TimeProvider time, IInvalidationBus? bus = null)
    : ReplicatedSnapshot(AccessDirectory.Topic, bus)
{
    /// <summary>The invalidation topic of keys, teams, apps, budgets, plans and subscriptions.</summary>
    public const string Topic = "access";

    private volatile AccessSnapshot _snapshot = AccessSnapshot.Empty;

    public AccessSnapshot Current => _snapshot;

    /// <summary>Loads keys, teams, apps, budgets, plans and subscriptions; a change made here is announced to the other replicas (a revoked key is refused everywhere at once).</summary>
    protected override async Task LoadAsync(CancellationToken cancellationToken)
    {
        var data = await store.LoadDirectoryAsync(time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken);
        var snapshot = AccessSnapshot.Build(data);
        // Counters start from the spend already recorded in their current period (once per budget).
        foreach (var budget in snapshot.Budgets)
        {
            await ledger.SeedAsync(store, Pipeline.AccessInterceptor.ToLimit(budget), Budgets.BudgetService.UsageColumn(budget.Scope), cancellationToken);
        }
        foreach (var sub in snapshot.Subscriptions.Values)
        {
            if (snapshot.Plans.TryGetValue(sub.PlanId, out var plan) && plan.TokenQuota is { } quota)
            {
                await ledger.SeedAsync(store, Pipeline.AccessInterceptor.QuotaLimit(sub, plan, quota), "subscription_id", cancellationToken);
            }
        }
        _snapshot = snapshot;
    }
}

internal sealed class AccessSnapshot
{
    public static readonly AccessSnapshot Empty = Build(new DirectoryData([], [], [], [], [], []));

    /// <summary>Key hashes (current and, during a rotation's overlap, previous) to the key and how long that secret stays valid.</summary>
    public required FrozenDictionary<string, (KeyEntry Entry, DateTimeOffset? Until)> KeysByHash { get; init; }
    public required FrozenDictionary<string, KeyEntry> KeysById { get; init; }
    public required FrozenDictionary<string, TeamRow> Teams { get; init; }
    public required FrozenDictionary<string, AppRow> Apps { get; init; }
    public required FrozenDictionary<string, BudgetRow[]> BudgetsByScope { get; init; }
    public required IReadOnlyList<BudgetRow> Budgets { get; init; }
    public required FrozenDictionary<string, PlanRow> Plans { get; init; }
    public required FrozenDictionary<string, PlanRow[]> PlansByModel { get; init; }
    public required FrozenDictionary<string, SubscriptionRow> Subscriptions { get; init; }
    public required FrozenDictionary<string, SubscriptionRow[]> SubscriptionsByApp { get; init; }

    public static string ScopeKey(string scope, string id) => scope + ":" + id;

    public TeamRow? FindTeam(string idOrName) =>
        Teams.TryGetValue(idOrName, out var t) ? t : Teams.Values.FirstOrDefault(x => string.Equals(x.Name, idOrName, StringComparison.Ordinal));

    public AppRow? FindApp(string idOrName, string? teamId = null) =>
        Apps.TryGetValue(idOrName, out var a) ? a : Apps.Values.FirstOrDefault(x => x.Name == idOrName && (teamId is null || x.TeamId == teamId));

    public static AccessSnapshot Build(DirectoryData data)
    {
        var keys = data.Keys.Select(ToEntry).ToList();
        return new AccessSnapshot
        {
            KeysByHash = keys.Select(static k => (k.Row.Hash, (k, (DateTimeOffset?)null)))
                .Concat(keys.Where(static k => k.Row.PreviousHash is not null && k.Row.PreviousUntilMs is not null)
                    .Select(static k => (k.Row.PreviousHash!, (k, (DateTimeOffset?)DateTimeOffset.FromUnixTimeMilliseconds(k.Row.PreviousUntilMs!.Value)))))
                .ToFrozenDictionary(static x => x.Item1, static x => x.Item2, StringComparer.Ordinal),
            KeysById = keys.ToFrozenDictionary(static k => k.Id, StringComparer.Ordinal),
            Teams = data.Teams.ToFrozenDictionary(static t => t.Id, StringComparer.Ordinal),
            Apps = data.Apps.ToFrozenDictionary(static a => a.Id, StringComparer.Ordinal),
            Budgets = data.Budgets,
            BudgetsByScope = data.Budgets.GroupBy(static b => ScopeKey(b.Scope, b.ScopeId))
                .ToFrozenDictionary(static g => g.Key, static g => g.ToArray(), StringComparer.Ordinal),
            Plans = data.Plans.ToFrozenDictionary(static p => p.Id, StringComparer.Ordinal),
            PlansByModel = data.Plans.GroupBy(static p => p.Model)
                .ToFrozenDictionary(static g => g.Key, static g => g.ToArray(), StringComparer.Ordinal),
            Subscriptions = data.Subscriptions.ToFrozenDictionary(static s => s.Id, StringComparer.Ordinal),
            SubscriptionsByApp = data.Subscriptions.GroupBy(static s => s.AppId)
                .ToFrozenDictionary(static g => g.Key, static g => g.ToArray(), StringComparer.Ordinal),
        };
    }

    private static KeyEntry ToEntry(KeyRow row)
    {
        var claims = new List<Claim>
        {
            new(ClaimTypes.Name, row.Name),
            new(ClaimTypes.NameIdentifier, "key:" + row.Id),
            new(ClaimTypes.Role, row.Role),
            new(MarketplaceClaims.CredentialKind, MarketplaceClaims.ApiKeyCredential),
            new(MarketplaceClaims.KeyId, row.Id),
        };
        if (row.TeamId is not null) claims.Add(new Claim(MarketplaceClaims.TeamId, row.TeamId));
        if (row.AppId is not null) claims.Add(new Claim(MarketplaceClaims.AppId, row.AppId));
        if (row.UserId is not null) claims.Add(new Claim(MarketplaceClaims.UserId, row.UserId));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, MarketplaceAuthenticationHandler.SchemeName));
        var models = row.Models is null ? null : JsonSerializer.Deserialize<string[]>(row.Models)?.ToFrozenSet(StringComparer.Ordinal);
        return new KeyEntry(
            row,
            models,
            row.ExpiresAtMs is { } e ? DateTimeOffset.FromUnixTimeMilliseconds(e) : null,
            row.RevokedAtMs is { } r ? DateTimeOffset.FromUnixTimeMilliseconds(r) : null,
            principal);
    }
}

/// <summary>Authenticates API keys from memory: one SHA-256 and one dictionary lookup, no database round trip.</summary>
internal sealed class ApiKeyValidator(AccessDirectory directory, TimeProvider time, Telemetry.AccessMetrics metrics) : ICredentialValidator
{
    public ValueTask<CredentialResult> ValidateAsync(string credential, CancellationToken cancellationToken)
    {
        if (!ApiKeySecret.LooksLikeKey(credential))
        {
            return ValueTask.FromResult(CredentialResult.NotRecognised);
        }
        var snapshot = directory.Current;
        if (!snapshot.KeysByHash.TryGetValue(ApiKeySecret.Hash(credential), out var found))
        {
            metrics.Refused("invalid_api_key");
            return ValueTask.FromResult(CredentialResult.Fail("Incorrect API key provided."));
        }
        var entry = found.Entry;
        var now = time.GetUtcNow();
        if (found.Until is { } until && until <= now)
        {
            metrics.Refused("invalid_api_key");
            return ValueTask.FromResult(CredentialResult.Fail("This API key has been rotated; use its new secret."));
        }
        if (entry.RevokedAt is { } revoked && revoked <= now)
        {
            metrics.Refused("invalid_api_key");
            return ValueTask.FromResult(CredentialResult.Fail("This API key has been revoked."));
        }
        if (entry.ExpiresAt is { } expires && expires <= now)
        {
            metrics.Refused("invalid_api_key");
            return ValueTask.FromResult(CredentialResult.Fail("This API key has expired."));
        }
        return ValueTask.FromResult(CredentialResult.Success(entry.Principal));
    }
}

/// <summary>Team names from the in-memory directory, for modules that show teams to people.</summary>
internal sealed class TeamNames(AccessDirectory directory) : Contracts.ITeamNames
{
    public string? NameOf(string teamId) => directory.Current.Teams.GetValueOrDefault(teamId)?.Name;
}
