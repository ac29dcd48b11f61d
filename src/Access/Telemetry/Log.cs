using Microsoft.Extensions.Logging;

namespace LlmMarketplace.Access.Telemetry;

/// <summary>The Access module's log messages (event ids 4000-4099). Never a key, a prompt or a completion.</summary>
internal static partial class Log
{
    [LoggerMessage(4000, LogLevel.Information, "Access directory loaded: {Keys} active key(s), {Teams} team(s), {Apps} app(s), {Budgets} budget(s), {Plans} plan(s)")]
    public static partial void DirectoryLoaded(ILogger logger, int keys, int teams, int apps, int budgets, int plans);

    [LoggerMessage(4001, LogLevel.Warning, "Access directory refresh failed")]
    public static partial void RefreshFailed(ILogger logger, Exception exception);

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
}
