namespace LlmMarketplace.BuildingBlocks.Secrets;

/// <summary>Resolves secret references (<c>env:NAME</c>, <c>file:PATH</c>); a literal secret is refused.</summary>
public static class SecretReference
{
    public const string EnvPrefix = "env:";
    public const string FilePrefix = "file:";

    /// <summary>A secret kept encrypted in the platform's secret store (Governance's <c>ISecretStore</c>): <c>secret:NAME</c>. Catalog listings may use it.</summary>
    public const string StorePrefix = "secret:";

    /// <summary>The name a <c>secret:NAME</c> reference points at in the secret store, or null for any other value.</summary>
    public static string? StoredSecretName(string? value) =>
        value is not null && value.StartsWith(StorePrefix, StringComparison.Ordinal) && value.Length > StorePrefix.Length ? value[StorePrefix.Length..] : null;

    public static bool IsReference(string? value) =>
        value is not null &&
        (value.StartsWith(EnvPrefix, StringComparison.Ordinal) || value.StartsWith(FilePrefix, StringComparison.Ordinal));

    /// <summary>Resolves a reference. Returns an error message instead of throwing so callers can collect every problem.</summary>
    public static bool TryResolve(string reference, out string? secret, out string? error)
    {
        secret = null;
        error = null;
        if (reference.StartsWith(EnvPrefix, StringComparison.Ordinal))
        {
            var name = reference[EnvPrefix.Length..];
            if (name.Length == 0)
            {
                error = "the reference 'env:' names no environment variable";
                return false;
            }
            secret = Environment.GetEnvironmentVariable(name);
            if (string.IsNullOrEmpty(secret))
            {
                error = $"the environment variable '{name}' is not set";
                return false;
            }
            return true;
        }
        if (reference.StartsWith(FilePrefix, StringComparison.Ordinal))
        {
            var path = reference[FilePrefix.Length..];
            if (!File.Exists(path))
            {
                error = $"the secret file '{path}' does not exist";
                return false;
            }
            secret = File.ReadAllText(path).Trim();
            if (secret.Length == 0)
            {
                error = $"the secret file '{path}' is empty";
                return false;
            }
            return true;
        }
        error = "secrets must be references ('env:NAME' or 'file:PATH'), never literal values";
        return false;
    }
}
