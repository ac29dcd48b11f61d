using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using LlmMarketplace.Governance.Contracts;
using LlmMarketplace.BuildingBlocks.Secrets;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LlmMarketplace.Governance.Identity;

/// <summary>
/// OpenID Connect sign-in: the authorization-code flow with PKCE (<c>/oidc/login</c> → provider → <c>/oidc/callback</c>),
/// or a client that already holds an id token exchanging it (<c>/oidc/token</c>). Id tokens are validated against the
/// authority's discovery document and JWKS (issuer, audience, signature, lifetime on the injected clock); the person
/// is matched by issuer and subject, created on first sign-in, and gets a marketplace session.
/// </summary>
internal sealed class OidcSignIn(GovernanceOptions options, TimeProvider time, UserStore users, TokenService tokens, IAuditLog audit)
{
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan PendingLifetime = TimeSpan.FromMinutes(10);

    private readonly OidcOptions _oidc = options.Oidc;
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false }) { Timeout = TimeSpan.FromSeconds(15) };
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly ConcurrentDictionary<string, (string Verifier, string Nonce, DateTimeOffset Expires)> _pending = new(StringComparer.Ordinal);
    private Discovery? _discovery;
    private DateTimeOffset _discoveredAt;

    public bool Enabled => _oidc.Enabled;

    private sealed record Discovery(
        [property: JsonPropertyName("issuer")] string Issuer,
        [property: JsonPropertyName("jwks_uri")] string JwksUri,
        [property: JsonPropertyName("authorization_endpoint")] string? AuthorizationEndpoint,
        [property: JsonPropertyName("token_endpoint")] string? TokenEndpoint)
    {
        [JsonIgnore]
        public IList<SecurityKey> Keys { get; set; } = [];
    }

    private async Task<Discovery> DiscoverAsync(bool refresh, CancellationToken ct)
    {
        if (!refresh && _discovery is { } cached && time.GetUtcNow() - _discoveredAt < TimeSpan.FromHours(1))
        {
            return cached;
        }
        var url = _oidc.Authority!.TrimEnd('/') + "/.well-known/openid-configuration";
        var discovery = await _http.GetFromJsonAsync<Discovery>(url, ct) ?? throw new InvalidDataException("empty discovery document");
        var jwks = new JsonWebKeySet(await _http.GetStringAsync(discovery.JwksUri, ct));
        discovery.Keys = jwks.GetSigningKeys();
        _discovery = discovery;
        _discoveredAt = time.GetUtcNow();
        return discovery;
    }

    /// <summary>Starts the authorization-code flow: the provider URL to send the browser to, with state, nonce and a PKCE challenge.</summary>
    public async Task<string> AuthorizationUrlAsync(CancellationToken ct)
    {
        var discovery = await DiscoverAsync(false, ct);
        var state = Random();
        var nonce = Random();
        var verifier = Random() + Random();
        var challenge = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        var now = time.GetUtcNow();
        foreach (var (key, value) in _pending)
        {
            if (value.Expires < now) _pending.TryRemove(key, out _);
        }
        _pending[state] = (verifier, nonce, now + PendingLifetime);
        var query = new Dictionary<string, string>
        {
            ["response_type"] = "code",
            ["client_id"] = _oidc.ClientId!,
            ["redirect_uri"] = _oidc.RedirectUri ?? "",
            ["scope"] = "openid profile email",
            ["state"] = state,
            ["nonce"] = nonce,
            ["code_challenge"] = challenge,
            ["code_challenge_method"] = "S256",
        };
        return discovery.AuthorizationEndpoint + "?" + string.Join("&", query.Select(static kv => $"{kv.Key}={Uri.EscapeDataString(kv.Value)}"));
    }

    /// <summary>Finishes the code flow: exchanges the code (with the PKCE verifier) for an id token and signs the person in.</summary>
    public async Task<(TokenPair? Pair, string? Error)> CallbackAsync(HttpContext context, string? code, string? state)
    {
        if (string.IsNullOrEmpty(code) || string.IsNullOrEmpty(state) || !_pending.TryRemove(state, out var pending) || pending.Expires < time.GetUtcNow())
        {
            return (null, "unknown or expired sign-in state; start again at /api/v1/auth/oidc/login");
        }
        var discovery = await DiscoverAsync(false, context.RequestAborted);
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["code"] = code,
            ["redirect_uri"] = _oidc.RedirectUri ?? "",
            ["client_id"] = _oidc.ClientId!,
            ["code_verifier"] = pending.Verifier,
        };
        if (_oidc.ClientSecret is { Length: > 0 } reference && SecretReference.TryResolve(reference, out var secret, out _))
        {
            form["client_secret"] = secret!;
        }
        using var response = await _http.PostAsync(discovery.TokenEndpoint, new FormUrlEncodedContent(form), context.RequestAborted);
        if (!response.IsSuccessStatusCode)
        {
            return (null, $"the identity provider refused the code ({(int)response.StatusCode})");
        }
        var body = await response.Content.ReadFromJsonAsync<JsonObject>(context.RequestAborted);
        if (body?["id_token"]?.GetValue<string>() is not { } idToken)
        {
            return (null, "the identity provider returned no id_token");
        }
        return await SignInAsync(context, idToken, pending.Nonce);
    }

    /// <summary>Validates an id token and starts a session for its subject.</summary>
    public async Task<(TokenPair? Pair, string? Error)> SignInAsync(HttpContext context, string idToken, string? expectedNonce)
    {
        var discovery = await DiscoverAsync(false, context.RequestAborted);
        var result = await ValidateAsync(idToken, discovery);
        if (!result.IsValid && result.Exception is SecurityTokenSignatureKeyNotFoundException)
        {
            // The provider rotated its keys.
            discovery = await DiscoverAsync(true, context.RequestAborted);
            result = await ValidateAsync(idToken, discovery);
        }
        if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt)
        {
            return await FailAsync(context, "invalid_id_token", "the id token is invalid (signature, issuer or audience)");
        }
        var now = time.GetUtcNow().UtcDateTime;
        if (now > jwt.ValidTo + ClockSkew || now + ClockSkew < jwt.IssuedAt)
        {
            return await FailAsync(context, "expired_id_token", "the id token has expired");
        }
        if (expectedNonce is not null && (!jwt.TryGetClaim("nonce", out var nonce) || nonce.Value != expectedNonce))
        {
            return await FailAsync(context, "nonce_mismatch", "the id token does not answer this sign-in (nonce)");
        }
        var roles = jwt.Claims.Where(c => c.Type == _oidc.RoleClaim).Select(static c => c.Value)
            .Where(static r => Roles.All.Contains(r) && r is not (Roles.SuperAdmin or Roles.ServiceAccount)).Distinct().ToList();
        var teams = jwt.Claims.Where(c => c.Type == _oidc.TeamClaim).Select(static c => new TeamMembership(c.Value, null)).DistinctBy(static t => t.Id).ToList();
        var user = await users.FindByExternalAsync(discovery.Issuer, jwt.Subject, context.RequestAborted);
        if (user is null)
        {
            var preferred = jwt.TryGetClaim("preferred_username", out var p) ? p.Value : jwt.TryGetClaim("email", out var e) ? e.Value : null;
            user = new UserRecord
            {
                Id = Guid.NewGuid().ToString("N"),
                Username = preferred is { Length: >= 3 and <= 64 } && await users.FindByUsernameAsync(preferred, context.RequestAborted) is null
                    ? preferred
                    : "oidc-" + TokenService.HashToken(discovery.Issuer + " " + jwt.Subject)[..16],
                DisplayName = jwt.TryGetClaim("name", out var n) ? n.Value : null,
                Email = jwt.TryGetClaim("email", out var m) ? m.Value : null,
                Kind = UserKinds.User,
                OidcIssuer = discovery.Issuer,
                OidcSubject = jwt.Subject,
                CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
                Roles = roles.Count > 0 ? roles : [.. _oidc.DefaultRoles],
                Teams = teams,
            };
            await users.InsertAsync(user, context.RequestAborted);
            await audit.AppendAsync(AuditEntry.ForRequest(context, "user.created", "user", user.Id) with { ActorId = user.Id, After = UsersApi.Snapshot(user) }, context.RequestAborted);
        }
        else if (user.Disabled != 0)
        {
            return await FailAsync(context, "account_disabled", "this account is disabled", user.Id);
        }
        else if (roles.Count > 0 && !roles.Order(StringComparer.Ordinal).SequenceEqual(user.Roles.Where(static r => r != Roles.SuperAdmin).Order(StringComparer.Ordinal)))
        {
            // The provider is the source of truth for the roles it names (super_admin stays managed here).
            var before = UsersApi.Snapshot(user);
            var updated = roles.Concat(user.Roles.Where(static r => r == Roles.SuperAdmin)).ToList();
            await users.SetRolesAsync(user.Id, updated, context.RequestAborted);
            user.Roles = updated;
            await audit.AppendAsync(AuditEntry.ForRequest(context, "user.roles_changed", "user", user.Id) with { ActorId = "oidc", Before = before, After = UsersApi.Snapshot(user) }, context.RequestAborted);
        }
        await users.RecordLoginAsync(user.Id, time.GetUtcNow().ToUnixTimeMilliseconds(), context.RequestAborted);
        var pair = await AuthApi.StartSessionAsync(context, user, tokens, users, time);
        await audit.AppendAsync(AuthApi.Entry(context, "auth.login", user.Id, "success", new JsonObject { ["method"] = "oidc" }), context.RequestAborted);
        return (pair, null);
    }

    private Task<TokenValidationResult> ValidateAsync(string idToken, Discovery discovery) =>
        _handler.ValidateTokenAsync(idToken, new TokenValidationParameters
        {
            ValidIssuer = discovery.Issuer,
            ValidAudience = _oidc.ClientId,
            IssuerSigningKeys = discovery.Keys,
            ValidateLifetime = false, // checked against TimeProvider
            RequireExpirationTime = true,
            ValidAlgorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512, SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384],
        });

    private async Task<(TokenPair?, string?)> FailAsync(HttpContext context, string reason, string message, string userId = "unknown")
    {
        await audit.AppendAsync(AuthApi.Entry(context, "auth.login", userId, "failure", new JsonObject { ["method"] = "oidc", ["reason"] = reason }), context.RequestAborted);
        return (null, message);
    }

    private static string Random() => Base64Url(RandomNumberGenerator.GetBytes(24));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary><c>/api/v1/auth/oidc/*</c>.</summary>
internal static class OidcApi
{
    public sealed record IdTokenRequest(string? IdToken);

    public static async Task<IResult> LoginAsync(OidcSignIn oidc, CancellationToken ct) =>
        !oidc.Enabled ? NotConfigured() : TypedResults.Redirect(await oidc.AuthorizationUrlAsync(ct));

    public static async Task<IResult> CallbackAsync(HttpContext context, string? code, string? state, OidcSignIn oidc)
    {
        if (!oidc.Enabled) return NotConfigured();
        var (pair, error) = await oidc.CallbackAsync(context, code, state);
        return pair is not null ? TypedResults.Ok(pair) : AuthApi.Problem(StatusCodes.Status401Unauthorized, "Sign-in failed", error!, "oidc_failed");
    }

    public static async Task<IResult> TokenAsync(HttpContext context, IdTokenRequest? body, OidcSignIn oidc)
    {
        if (!oidc.Enabled) return NotConfigured();
        if (string.IsNullOrEmpty(body?.IdToken)) return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["idToken"] = ["is required"] });
        var (pair, error) = await oidc.SignInAsync(context, body.IdToken, null);
        return pair is not null ? TypedResults.Ok(pair) : AuthApi.Problem(StatusCodes.Status401Unauthorized, "Sign-in failed", error!, "oidc_failed");
    }

    private static ProblemHttpResult NotConfigured() =>
        AuthApi.Problem(StatusCodes.Status404NotFound, "OpenID Connect is not configured", "Set Governance:Oidc:Authority and Governance:Oidc:ClientId to enable it.", "oidc_not_configured");
}
