namespace LlmMarketplace.Access.Telemetry;

/// <summary>The Access module's log messages (event ids 4000-4099). Never a key, a prompt or a completion.</summary>
internal static partial class Log
{
    [LoggerMessage(4002, LogLevel.Error, "Usage batch of {Count} record(s) failed to commit")]
    public static partial void UsageCommitFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(4003, LogLevel.Information, "API key {KeyId} ({Prefix}…) created by {Actor}")]
    public static partial void KeyCreated(ILogger logger, string keyId, string prefix, string actor);

    [LoggerMessage(4004, LogLevel.Information, "API key {KeyId} revoked by {Actor}")]
    public static partial void KeyRevoked(ILogger logger, string keyId, string actor);

    [LoggerMessage(4005, LogLevel.Warning, "Budget {BudgetId} ({Scope} {ScopeId}) crossed {Percent:0}% of its {Period} limit")]
    public static partial void BudgetAlert(ILogger logger, string budgetId, string scope, string scopeId, double percent, string period);

    [LoggerMessage(4006, LogLevel.Warning, "Could not read the spend already recorded for budget {BudgetId}; it counts from now and is read again on its next use")]
    public static partial void BudgetSeedFailed(ILogger logger, Exception exception, string budgetId);

    [LoggerMessage(4007, LogLevel.Warning, "Usage batch of {Count} record(s) could not be kept on local disk either")]
    public static partial void UsageSpoolFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(4008, LogLevel.Information, "Delivered {Count} usage record(s) kept on local disk while the database was unavailable")]
    public static partial void SpoolDelivered(ILogger logger, int count);

    [LoggerMessage(4009, LogLevel.Warning, "Skipped an incomplete line of the usage spool (a write cut short by a crash)")]
    public static partial void SpoolLineSkipped(ILogger logger);

    [LoggerMessage(4010, LogLevel.Debug, "Usage kept on local disk is not delivered yet: {Error}")]
    public static partial void SpoolDeliveryFailed(ILogger logger, string error);

    [LoggerMessage(4011, LogLevel.Warning, "The usage stream consumer could not write a batch ({Error}); it retries")]
    public static partial void UsageStreamFailed(ILogger logger, string error);

    [LoggerMessage(4012, LogLevel.Error, "Usage stream entry {EntryId} is not a usage record; it is acknowledged and dropped so that it does not hold up the stream")]
    public static partial void UsageStreamEntryRejected(ILogger logger, string entryId);

    [LoggerMessage(4013, LogLevel.Warning, "The usage records' write-ahead log could not be checkpointed in the background; the commits checkpoint it themselves")]
    public static partial void CheckpointFailed(ILogger logger, Exception exception);
}
