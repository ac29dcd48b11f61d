using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using LlmMarketplace.BuildingBlocks.Http;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LlmMarketplace.BuildingBlocks.Security;

public sealed class MarketplaceAuthenticationOptions : AuthenticationSchemeOptions
{
    /// <summary>The bootstrap admin credential (<c>LLMM_MASTER_KEY</c>); null disables it.</summary>
    public string? MasterKey { get; set; }
}

/// <summary>
/// Authenticates <c>Authorization: Bearer</c> (and <c>api-key</c> / <c>x-api-key</c>) credentials:
/// the master key first, then every registered <see cref="ICredentialValidator"/>.
/// Challenges answer in Anthropic's envelope on <c>/v1/messages</c>, in OpenAI's on the rest of <c>/v1</c> and as problem details elsewhere.
/// </summary>
public sealed class MarketplaceAuthenticationHandler(
    IOptionsMonitor<MarketplaceAuthenticationOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IEnumerable<ICredentialValidator> validators,
    IEnumerable<ISignInAudit> signIns)
    : AuthenticationHandler<MarketplaceAuthenticationOptions>(options, logger, encoder)
{
    public const string SchemeName = "Marketplace";

    private static readonly ClaimsPrincipal MasterPrincipal = new(new ClaimsIdentity(
        [
            new Claim(ClaimTypes.Name, "master-key"),
            new Claim(ClaimTypes.NameIdentifier, "master-key"),
            new Claim(ClaimTypes.Role, Roles.SuperAdmin),
            new Claim(MarketplaceClaims.CredentialKind, MarketplaceClaims.MasterKey),
        ],
        SchemeName));

    private readonly ICredentialValidator[] _validators = validators.ToArray();
    private readonly ISignInAudit[] _signIns = signIns.ToArray();
    private string? _failureCode;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var credential = ReadCredential(Request);
        if (credential is null)
        {
            return AuthenticateResult.NoResult();
        }

        if (Options.MasterKey is { Length: > 0 } master && FixedTimeEquals(credential, master))
        {
            foreach (var signIn in _signIns) await signIn.MasterKeyAcceptedAsync(Context);
            return AuthenticateResult.Success(new AuthenticationTicket(MasterPrincipal, SchemeName));
        }

        foreach (var validator in _validators)
        {
            var result = await validator.ValidateAsync(credential, Context.RequestAborted);
            if (result.Principal is not null)
            {
                var method = MethodOf(credential);
                if (method is "api_key" or "service_token")
                {
                    foreach (var signIn in _signIns) await signIn.CredentialAcceptedAsync(Context, method, result.Principal);
                }
                return AuthenticateResult.Success(new AuthenticationTicket(result.Principal, SchemeName));
            }
            if (result.Failure is not null)
            {
                _failureCode = result.FailureCode;
                foreach (var signIn in _signIns) await signIn.CredentialRefusedAsync(Context, MethodOf(credential), result.FailureCode ?? "refused");
                return AuthenticateResult.Fail(result.Failure);
            }
        }

        _failureCode = "invalid_api_key";
        foreach (var signIn in _signIns) await signIn.CredentialRefusedAsync(Context, MethodOf(credential), "unknown_credential");
        return AuthenticateResult.Fail("Incorrect API key provided.");
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        var message = result.Failure?.Message
            ?? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
        Response.Headers.WWWAuthenticate = "Bearer";
        if (AnthropicErrorWriter.IsMessagesPath(Request.Path))
        {
            await AnthropicErrorWriter.WriteAsync(Context, StatusCodes.Status401Unauthorized, message);
            return;
        }
        if (OpenAIErrorWriter.IsDataPlane(Request.Path))
        {
            await OpenAIErrorWriter.WriteAsync(Context, StatusCodes.Status401Unauthorized, message, "authentication_error", null, _failureCode ?? "invalid_api_key");
            return;
        }
        await Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Authentication required", detail: message)
            .ExecuteAsync(Context);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        const string message = "Your credential does not have permission to perform this operation.";
        if (AnthropicErrorWriter.IsMessagesPath(Request.Path))
        {
            await AnthropicErrorWriter.WriteAsync(Context, StatusCodes.Status403Forbidden, message);
            return;
        }
        if (OpenAIErrorWriter.IsDataPlane(Request.Path))
        {
            await OpenAIErrorWriter.WriteAsync(Context, StatusCodes.Status403Forbidden, message, "permission_error", null, "insufficient_permissions");
            return;
        }
        await Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: message)
            .ExecuteAsync(Context);
    }

    /// <summary>What a refused credential looked like: an API key (its prefix), a signed token (JWT), else a master key.</summary>
    private static string MethodOf(string credential) =>
        credential.StartsWith("llmm-", StringComparison.Ordinal) ? "api_key"
        : credential.StartsWith("llmm_sa_", StringComparison.Ordinal) ? "service_token"
        : credential.Count(static c => c == '.') == 2 ? "access_token"
        : "master_key";

    internal static string? ReadCredential(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.Length > 7 && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var token = authorization[7..].Trim();
            return token.Length == 0 ? null : token;
        }
        // Azure OpenAI and Anthropic SDKs send their key in these headers.
        var apiKey = request.Headers["api-key"].ToString();
        if (apiKey.Length > 0)
        {
            return apiKey;
        }
        apiKey = request.Headers["x-api-key"].ToString();
        return apiKey.Length > 0 ? apiKey : null;
    }

    private static bool FixedTimeEquals(string a, string b)
    {
        Span<byte> ha = stackalloc byte[32];
        Span<byte> hb = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(a), ha);
        SHA256.HashData(Encoding.UTF8.GetBytes(b), hb);
        return CryptographicOperations.FixedTimeEquals(ha, hb);
    }
}
