using LlmMarketplace.BuildingBlocks.Distributed;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using LlmMarketplace.Governance.Secrets;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LlmMarketplace.Governance.Identity;

/// <summary>An issued pair: a short-lived access token (JWT) and the session's refresh token.</summary>
public sealed record TokenPair(string AccessToken, string TokenType, int ExpiresIn, string RefreshToken, int RefreshExpiresIn);

/// <summary>
/// Issues and validates access tokens (HS256 JWTs signed with a key derived from the installation key) and keeps the
/// set of revoked sessions in memory, so validation never touches the database. Lifetimes are checked against the
/// injected <see cref="TimeProvider"/>.
/// </summary>
internal sealed class TokenService
{
    public const string Issuer = "llm-marketplace";
    public const string Audience = "llm-marketplace";
    public const string SessionClaim = "sid";
    public const string ServiceTokenPrefix = "llmm_sa_";
    private const string RefreshTokenPrefix = "llmm_rt_";
    private static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(30);

    private readonly GovernanceOptions _options;
    private readonly TimeProvider _time;
    private readonly SymmetricSecurityKey _key;
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false, MapInboundClaims = false };
    private readonly TokenValidationParameters _parameters;
    private readonly ConcurrentDictionary<string, long> _revokedSessions = new(StringComparer.Ordinal);

    private readonly IInvalidationBus? _bus;

    public TokenService(GovernanceOptions options, TimeProvider time, KeyRing keys, IInvalidationBus? bus = null)
    {
        _bus = bus;
        _options = options;
        _time = time;
        _key = new SymmetricSecurityKey(keys.TokenSigningKey) { KeyId = "llmm-1" };
        _parameters = new TokenValidationParameters
        {
            ValidIssuer = Issuer,
            ValidAudience = Audience,
            IssuerSigningKey = _key,
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            ValidateLifetime = false, // checked below against TimeProvider
            RequireExpirationTime = true,
            ValidateIssuerSigningKey = true,
        };
    }

    public TimeSpan AccessLifetime => TimeSpan.FromMinutes(_options.AccessTokenMinutes);

    public TimeSpan RefreshLifetime => TimeSpan.FromHours(_options.RefreshTokenHours);

    public string CreateAccessToken(UserRecord user, string sessionId)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        var claims = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            [JwtRegisteredClaimNames.Sub] = user.Id,
            ["name"] = user.Username,
            [SessionClaim] = sessionId,
            [JwtRegisteredClaimNames.Jti] = Guid.NewGuid().ToString("N"),
            ["roles"] = user.Roles.ToArray(),
            ["teams"] = user.Teams.Select(static t => t.Id).ToArray(),
        };
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + AccessLifetime,
            Claims = claims,
            SigningCredentials = new SigningCredentials(_key, SecurityAlgorithms.HmacSha256),
        });
    }

    public static bool LooksLikeJwt(string credential) =>
        credential.StartsWith("eyJ", StringComparison.Ordinal) && credential.AsSpan().Count('.') == 2;

    public async Task<CredentialResult> ValidateAsync(string token)
    {
        var result = await _handler.ValidateTokenAsync(token, _parameters);
        if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt)
        {
            return CredentialResult.Fail("The access token is invalid (bad signature, issuer or format).", "invalid_token");
        }
        var now = _time.GetUtcNow().UtcDateTime;
        if (jwt.ValidTo == DateTime.MinValue || now > jwt.ValidTo + ClockSkew)
        {
            return CredentialResult.Fail("The access token has expired; refresh it or log in again.", "token_expired");
        }
        if (now + ClockSkew < jwt.ValidFrom)
        {
            return CredentialResult.Fail("The access token is not valid yet.", "invalid_token");
        }
        var sessionId = jwt.TryGetClaim(SessionClaim, out var sid) ? sid.Value : null;
        if (sessionId is null || _revokedSessions.ContainsKey(sessionId))
        {
            return CredentialResult.Fail("The session of this access token has ended (logged out or revoked).", "token_revoked");
        }
        var userId = jwt.Subject;
        var name = jwt.TryGetClaim("name", out var n) ? n.Value : userId;
        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, userId),
            new(ClaimTypes.Name, name),
            new(MarketplaceClaims.UserId, userId),
            new(MarketplaceClaims.CredentialKind, MarketplaceClaims.AccessToken),
            new(SessionClaim, sessionId),
        };
        claims.AddRange(jwt.Claims.Where(static c => c.Type == "roles").Select(static c => new Claim(ClaimTypes.Role, c.Value)));
        claims.AddRange(jwt.Claims.Where(static c => c.Type == "teams").Select(static c => new Claim(MarketplaceClaims.TeamId, c.Value)));
        return CredentialResult.Success(new ClaimsPrincipal(new ClaimsIdentity(claims, MarketplaceAuthenticationHandler.SchemeName, ClaimTypes.Name, ClaimTypes.Role)));
    }

    public void MarkRevoked(string sessionId, long expiresAtMs)
    {
        Remember(sessionId, expiresAtMs);
        // The other replicas re-read the revoked sessions (already committed) from the database.
        _bus?.PublishAsync(ServiceTokenValidator.Topic);
    }

    /// <summary>Records a revocation made elsewhere (at start, or another replica's) without announcing it.</summary>
    public void Remember(string sessionId, long expiresAtMs)
    {
        _revokedSessions[sessionId] = expiresAtMs;
        // Forget revocations whose sessions have expired anyway.
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (_revokedSessions.Count > 10_000)
        {
            foreach (var (id, expires) in _revokedSessions)
            {
                if (expires < now) _revokedSessions.TryRemove(id, out _);
            }
        }
    }

    public static string NewRefreshToken() => RefreshTokenPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string NewServiceToken() => ServiceTokenPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string HashToken(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
