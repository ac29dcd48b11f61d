namespace LlmMarketplace.Catalog;

/// <summary>The catalog's log messages (event ids 3000–3099).</summary>
internal static partial class Log
{
    [LoggerMessage(5000, LogLevel.Information, "Catalog loaded: {Services} services, {Routable} routable, index of {Terms} terms built in {Milliseconds} ms")]
    public static partial void CatalogLoaded(ILogger logger, int services, int routable, int terms, long milliseconds);

    [LoggerMessage(5010, LogLevel.Debug, "Catalog reloaded without a change of routes: {Services} services, {Routable} routable, in {Milliseconds} ms")]
    public static partial void CatalogReloaded(ILogger logger, int services, int routable, long milliseconds);

    [LoggerMessage(5001, LogLevel.Information, "Catalog import ({Format}): {Created} created, {Updated} updated, {Unchanged} unchanged")]
    public static partial void Imported(ILogger logger, string format, int created, int updated, int unchanged);

    [LoggerMessage(5002, LogLevel.Information, "Version {Slug}@{Version} moved from {From} to {To}")]
    public static partial void Transition(ILogger logger, string slug, string version, string from, string to);

    [LoggerMessage(5005, LogLevel.Warning, "Computing listing embeddings failed; hybrid search uses the listings embedded so far")]
    public static partial void EmbeddingFailed(ILogger logger, Exception exception);

    [LoggerMessage(5006, LogLevel.Warning, "Embedding the search query failed; answering with text ranking only")]
    public static partial void QueryEmbeddingFailed(ILogger logger, Exception exception);

    [LoggerMessage(5004, LogLevel.Information, "Checks of {Slug}@{Version}: {Outcome}")]
    public static partial void Checked(ILogger logger, string slug, string version, string outcome);

    [LoggerMessage(5007, LogLevel.Warning, "A routable deployment names the secret '{Name}', which is not in the secret store; it is called without a credential")]
    public static partial void SecretMissing(ILogger logger, string name);

    [LoggerMessage(5008, LogLevel.Warning, "Reading the measured service level of listings failed; answering without it")]
    public static partial void ServiceLevelReadFailed(ILogger logger, Exception exception);

    [LoggerMessage(5009, LogLevel.Warning, "A configured model is not listed in the catalog: {Problem}")]
    public static partial void ConfiguredModelNotListed(ILogger logger, string problem);

    [LoggerMessage(5010, LogLevel.Warning, "Listing the configured models in the catalog failed; the next refresh tries again")]
    public static partial void ConfiguredModelsSyncFailed(ILogger logger, Exception exception);
}
