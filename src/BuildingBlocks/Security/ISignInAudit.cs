using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.BuildingBlocks.Security;

/// <summary>
/// Hears of bearer credentials the authentication handler accepted or refused without a sign-in endpoint of their own:
/// the master key, API keys and service-account tokens, and credentials no validator accepted (implemented by
/// Governance, which audits them).
/// </summary>
public interface ISignInAudit
{
    /// <summary>A request authenticated with the master key.</summary>
    ValueTask MasterKeyAcceptedAsync(HttpContext context);

    /// <summary>
    /// A request authenticated with an API key or a service-account token (<paramref name="method"/> <c>api_key</c> or
    /// <c>service_token</c>) as <paramref name="principal"/>. Session access tokens are not reported: their sign-in is.
    /// </summary>
    ValueTask CredentialAcceptedAsync(HttpContext context, string method, ClaimsPrincipal principal) => ValueTask.CompletedTask;

    /// <summary>A credential refused: <paramref name="method"/> is what it looked like (<c>api_key</c>, <c>service_token</c>, <c>access_token</c>, <c>master_key</c>).</summary>
    ValueTask CredentialRefusedAsync(HttpContext context, string method, string reason);
}
