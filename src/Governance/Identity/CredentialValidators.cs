using LlmMarketplace.BuildingBlocks.Distributed;
using System.Collections.Concurrent;

namespace LlmMarketplace.Governance.Identity;

/// <summary>Accepts the module's access tokens (JWTs) in the single authentication scheme.</summary>
internal sealed class AccessTokenValidator(TokenService tokens, Telemetry.GovernanceMetrics metrics) : ICredentialValidator
{
    public async ValueTask<CredentialResult> ValidateAsync(string credential, CancellationToken cancellationToken)
    {
        if (!TokenService.LooksLikeJwt(credential))
        {
            return CredentialResult.NotRecognised;
        }
        var result = await tokens.ValidateAsync(credential);
        if (result.Failure is not null)
        {
            metrics.TokenRejected(result.FailureCode ?? "invalid_token");
        }
        return result;
    }
}

/// <summary>
/// Accepts service-account tokens (<c>llmm_sa_...</c>) from an in-memory index of their SHA-256 hashes, refreshed
/// whenever a service account or token changes.
/// </summary>
internal sealed class ServiceTokenValidator(UserStore users, IInvalidationBus? bus = null) : ReplicatedSnapshot(ServiceTokenValidator.Topic, bus), ICredentialValidator
{
    /// <summary>The invalidation topic of service tokens and revoked sessions.</summary>
    public const string Topic = "identity";

    public const string CredentialKind = "service_token";

    private volatile IReadOnlyDictionary<string, ClaimsPrincipal> _principals = new Dictionary<string, ClaimsPrincipal>();

    public ValueTask<CredentialResult> ValidateAsync(string credential, CancellationToken cancellationToken)
    {
        if (!credential.StartsWith(TokenService.ServiceTokenPrefix, StringComparison.Ordinal))
        {
            return ValueTask.FromResult(CredentialResult.NotRecognised);
        }
        var hash = TokenService.HashToken(credential);
        return _principals.TryGetValue(hash, out var principal)
            ? ValueTask.FromResult(CredentialResult.Success(principal))
            : ValidateMissAsync(hash, cancellationToken);
    }

    /// <summary>A token another replica issued after this one loaded its index: one look-up, then a reload.</summary>
    private async ValueTask<CredentialResult> ValidateMissAsync(string hash, CancellationToken cancellationToken)
    {
        if (await users.IsLiveServiceTokenAsync(hash, cancellationToken))
        {
            await RefreshAsync(cancellationToken);
            if (_principals.TryGetValue(hash, out var principal)) return CredentialResult.Success(principal);
        }
        return CredentialResult.Fail("The service-account token is invalid or revoked.", "invalid_token");
    }

    /// <summary>Loads the live service tokens and their users; reloaded after a change made here (a token issued or revoked, a user disabled).</summary>
    protected override async Task LoadAsync(CancellationToken cancellationToken)
    {
        var tokens = await users.LiveServiceTokensAsync(cancellationToken);
        var cache = new Dictionary<string, UserRecord?>(StringComparer.Ordinal);
        var principals = new ConcurrentDictionary<string, ClaimsPrincipal>(StringComparer.Ordinal);
        foreach (var (hash, userId) in tokens)
        {
            if (!cache.TryGetValue(userId, out var user))
            {
                cache[userId] = user = await users.FindByIdAsync(userId, cancellationToken);
            }
            if (user is null) continue;
            var claims = new List<Claim>
            {
                new(ClaimTypes.NameIdentifier, user.Id),
                new(ClaimTypes.Name, user.Username),
                new(MarketplaceClaims.UserId, user.Id),
                new(MarketplaceClaims.CredentialKind, CredentialKind),
            };
            claims.AddRange(user.Roles.Select(static r => new Claim(ClaimTypes.Role, r)));
            claims.AddRange(user.Teams.Select(static t => new Claim(MarketplaceClaims.TeamId, t.Id)));
            principals[hash] = new ClaimsPrincipal(new ClaimsIdentity(claims, MarketplaceAuthenticationHandler.SchemeName, ClaimTypes.Name, ClaimTypes.Role));
        }
        _principals = principals;
    }
}
