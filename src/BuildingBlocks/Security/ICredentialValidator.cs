using System.Security.Claims;

namespace LlmMarketplace.BuildingBlocks.Security;

/// <summary>
/// Validates a bearer credential. Modules register implementations (API keys, access tokens);
/// the first that recognises the credential decides.
/// </summary>
public interface ICredentialValidator
{
    /// <summary>Returns a principal, a failure, or <see cref="CredentialResult.NotRecognised"/>.</summary>
    ValueTask<CredentialResult> ValidateAsync(string credential, CancellationToken cancellationToken);
}

public readonly record struct CredentialResult(ClaimsPrincipal? Principal, string? Failure, string? FailureCode)
{
    public static CredentialResult NotRecognised => default;

    public static CredentialResult Success(ClaimsPrincipal principal) => new(principal, null, null);

    public static CredentialResult Fail(string message, string code = "invalid_api_key") => new(null, message, code);

    public bool Recognised => Principal is not null || Failure is not null;
}
