using LlmMarketplace.BuildingBlocks.Secrets;

namespace LlmMarketplace.Catalog.Routing;

/// <summary>
/// Callable means callable: a listing version is routed only through deployments whose credential resolves (a
/// <c>secret:NAME</c> in the secret store, an <c>env:NAME</c> set on this replica, or none needed). A version none of
/// whose deployments has its credential is not callable: hidden from <c>GET /v1/models</c>, answered with a 503 naming
/// what is missing instead of an upstream failure, and shown to administrators and its publisher as not callable.
/// </summary>
internal static class Callability
{
    /// <summary>Why the version cannot be called (<c>credential OPENROUTER_API_KEY missing</c>), or null when it can (or is not routed by the catalog).</summary>
    public static string? NotCallableReason(ListingSpec spec, CatalogSnapshot snapshot)
    {
        var routed = Routed(spec).ToList();
        if (routed.Count == 0 || routed.Any(d => HasCredential(d, snapshot))) return null;
        var missing = routed.Select(static d => CredentialName(d.ApiKey!)).Distinct(StringComparer.Ordinal);
        return $"credential {string.Join(", ", missing)} missing";
    }

    /// <summary>The deployments to route: those with their credential, or all of them when none has it (the call is then refused before routing).</summary>
    public static IReadOnlyList<DeploymentSpec> Usable(ListingSpec spec, CatalogSnapshot snapshot)
    {
        var all = spec.Deployments ?? [];
        var usable = all.Where(d => HasCredential(d, snapshot)).ToList();
        return usable.Count > 0 ? usable : all;
    }

    /// <summary>Whether a deployment's credential resolves (or it needs none).</summary>
    public static bool HasCredential(DeploymentSpec d, CatalogSnapshot snapshot)
    {
        if (string.IsNullOrEmpty(d.ApiKey)) return true;
        if (SecretReference.StoredSecretName(d.ApiKey) is { } stored) return snapshot.Secrets.ContainsKey(stored);
        if (d.ApiKey.StartsWith(SecretReference.EnvPrefix, StringComparison.Ordinal)) return snapshot.Environment.Contains(d.ApiKey);
        return SecretReference.IsReference(d.ApiKey) && SecretReference.TryResolve(d.ApiKey, out _, out _);
    }

    /// <summary>The <c>env:NAME</c> references of routable deployments that are set in this replica's environment.</summary>
    public static HashSet<string> SetEnvironmentReferences(IEnumerable<CatalogEntry> entries) =>
        entries.SelectMany(static e => e.Routable).SelectMany(static v => v.Spec.Deployments ?? [])
            .Select(static d => d.ApiKey).OfType<string>().Where(static k => k.StartsWith(SecretReference.EnvPrefix, StringComparison.Ordinal))
            .Distinct(StringComparer.Ordinal)
            .Where(static k => SecretReference.TryResolve(k, out _, out _))
            .ToHashSet(StringComparer.Ordinal);

    private static IEnumerable<DeploymentSpec> Routed(ListingSpec spec) =>
        (spec.Deployments ?? []).Where(static d => d.BaseUrl is not null && d.Provider is not null);

    /// <summary>What an administrator sets: the variable of <c>env:NAME</c>, the secret of <c>secret:NAME</c>.</summary>
    private static string CredentialName(string reference) =>
        SecretReference.StoredSecretName(reference) is { } stored ? "secret:" + stored
        : reference.StartsWith(SecretReference.EnvPrefix, StringComparison.Ordinal) ? reference[SecretReference.EnvPrefix.Length..]
        : reference;
}
