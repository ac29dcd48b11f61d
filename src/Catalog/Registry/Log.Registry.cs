namespace LlmMarketplace.Catalog;

/// <summary>Registry sources' log messages (event ids 5100–5119).</summary>
internal static partial class Log
{
    [LoggerMessage(5100, LogLevel.Information, "Source {Source} synced: {Created} created, {Updated} updated, {Deprecated} deprecated, {Unchanged} unchanged")]
    public static partial void SourceSynced(ILogger logger, string source, int created, int updated, int deprecated, int unchanged);

    [LoggerMessage(5101, LogLevel.Warning, "Syncing the source {Source} failed: {Reason}; the next sync tries again")]
    public static partial void SourceSyncFailed(ILogger logger, string source, string reason);

    [LoggerMessage(5102, LogLevel.Error, "Syncing the source {Source} failed unexpectedly; the next sync tries again")]
    public static partial void SourceSyncCrashed(ILogger logger, Exception exception, string source);
}
