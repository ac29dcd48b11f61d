namespace LlmMarketplace.Governance.Contracts;

/// <summary>
/// Secrets (provider credentials, deployment API keys) encrypted at rest. Values are only ever returned to
/// server code that needs them to call a provider, never by an API, never logged.
/// </summary>
public interface ISecretStore
{
    /// <summary>Stores (or replaces) a secret under a name such as <c>catalog/deployments/abc/api-key</c>.</summary>
    Task PutAsync(string name, string value, CancellationToken cancellationToken = default);

    /// <summary>The decrypted value, or null when there is no such secret.</summary>
    Task<string?> GetAsync(string name, CancellationToken cancellationToken = default);

    Task<bool> DeleteAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The names (never the values) of the stored secrets under a prefix.</summary>
    Task<IReadOnlyList<string>> ListAsync(string prefix = "", CancellationToken cancellationToken = default);
}
