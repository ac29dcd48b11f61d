using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LlmMarketplace.Governance.Tests.Identity;

/// <summary>
/// A real OpenID Connect provider on loopback (Kestrel): discovery, JWKS, an authorize endpoint that signs in a fixed
/// person at once, and a token endpoint that checks the PKCE verifier.
/// </summary>
public sealed class FakeOidcProvider : IAsyncDisposable
{
    public const string ClientId = "llmm-test-client";

    private LoopbackServer? _server;
    private readonly RSA _rsa = RSA.Create(2048);
    private readonly ConcurrentDictionary<string, (string Challenge, string Nonce)> _codes = new();

    public string Issuer => _server!.BaseUrl;

    /// <summary>Claims of the person who signs in at the authorize endpoint.</summary>
    public Dictionary<string, object> Person { get; } = new() { ["sub"] = "person-1", ["preferred_username"] = "ada", ["roles"] = new[] { "approver" }, ["groups"] = new[] { "team-oidc" } };

    public static async Task<FakeOidcProvider> StartAsync()
    {
        var self = new FakeOidcProvider();
        self._server = await LoopbackServer.StartAsync(self.Map);
        return self;
    }

    private void Map(WebApplication app)
    {
        app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, string>
        {
            ["issuer"] = Issuer,
            ["jwks_uri"] = Issuer + "/jwks",
            ["authorization_endpoint"] = Issuer + "/authorize",
            ["token_endpoint"] = Issuer + "/token",
        }));
        app.MapGet("/jwks", () =>
        {
            var p = _rsa.ExportParameters(false);
            return Results.Json(new { keys = new[] { new { kty = "RSA", kid = "k1", use = "sig", alg = "RS256", n = Base64UrlEncoder.Encode(p.Modulus), e = Base64UrlEncoder.Encode(p.Exponent) } } });
        });
        app.MapGet("/authorize", (HttpContext ctx) =>
        {
            var q = ctx.Request.Query;
            if (q["response_type"] != "code" || q["client_id"] != ClientId || q["code_challenge_method"] != "S256" || string.IsNullOrEmpty(q["code_challenge"]))
            {
                return Results.BadRequest("bad authorize request");
            }
            var code = Guid.NewGuid().ToString("N");
            _codes[code] = (q["code_challenge"].ToString(), q["nonce"].ToString());
            return Results.Redirect($"{q["redirect_uri"]}?code={code}&state={Uri.EscapeDataString(q["state"].ToString())}");
        });
        app.MapPost("/token", async (HttpContext ctx) =>
        {
            var form = await ctx.Request.ReadFormAsync();
            if (!_codes.TryRemove(form["code"].ToString(), out var issued)) return Results.BadRequest(new { error = "invalid_grant" });
            var challenge = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(form["code_verifier"].ToString())));
            if (challenge != issued.Challenge) return Results.BadRequest(new { error = "invalid_grant", error_description = "PKCE verification failed" });
            var claims = new Dictionary<string, object>(Person) { ["nonce"] = issued.Nonce };
            return Results.Json(new { id_token = IdToken(claims), token_type = "Bearer" });
        });
    }

    /// <summary>An id token signed with the provider's key (or another key), valid for the given times.</summary>
    public string IdToken(Dictionary<string, object> claims, string audience = ClientId, DateTime? expires = null, RSA? key = null)
    {
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = audience,
            IssuedAt = (expires ?? now.AddMinutes(5)).AddMinutes(-10),
            NotBefore = (expires ?? now.AddMinutes(5)).AddMinutes(-10),
            Expires = expires ?? now.AddMinutes(5),
            Claims = claims,
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(key ?? _rsa) { KeyId = "k1" }, SecurityAlgorithms.RsaSha256),
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _server!.DisposeAsync();
        _rsa.Dispose();
    }
}
