namespace LlmMarketplace.Governance.Telemetry;

/// <summary>Governance's log messages. Passwords, tokens, secrets and personal data are never logged.</summary>
internal static partial class Log
{
    [LoggerMessage(3001, LogLevel.Warning, "Login failed for user {UserId}: {Reason}")]
    public static partial void LoginFailed(ILogger logger, string userId, string reason);

    [LoggerMessage(3002, LogLevel.Warning, "Account {UserId} locked after {Attempts} failed logins")]
    public static partial void AccountLocked(ILogger logger, string userId, int attempts);

    [LoggerMessage(3003, LogLevel.Information, "Policies compiled: {Count} enabled policies")]
    public static partial void PoliciesCompiled(ILogger logger, int count);

    [LoggerMessage(3004, LogLevel.Error, "Policies could not be compiled; the engine is {Mode}")]
    public static partial void PoliciesFaulted(ILogger logger, Exception exception, string mode);

    [LoggerMessage(3009, LogLevel.Warning, "{Listener} failed to take in the new policies")]
    public static partial void PolicyListenerFailed(ILogger logger, Exception exception, string listener);

    [LoggerMessage(3005, LogLevel.Error, "Policy evaluation failed; request {RequestId} {Outcome}")]
    public static partial void PolicyEvaluationFailed(ILogger logger, Exception exception, string requestId, string outcome);

    [LoggerMessage(3006, LogLevel.Information, "Gateway call {RequestId} refused by policy")]
    public static partial void PolicyDenied(ILogger logger, string requestId);

    [LoggerMessage(3007, LogLevel.Information, "Encryption key file created in the data directory")]
    public static partial void KeyFileCreated(ILogger logger);

    [LoggerMessage(3008, LogLevel.Warning, "First run: created administrator {Username}; its one-time password was printed to the console")]
    public static partial void BootstrapAdminCreated(ILogger logger, string username);

    [LoggerMessage(3010, LogLevel.Warning, "Listing {Listing} breaks policy {Policy}; action {Action}")]
    public static partial void ListingViolation(ILogger logger, string listing, string policy, string action);

    [LoggerMessage(3011, LogLevel.Information, "Listing {Listing} complies with policy {Policy} again; violation resolved")]
    public static partial void ListingViolationResolved(ILogger logger, string listing, string policy);

    [LoggerMessage(3012, LogLevel.Warning, "Recording a {Method} sign-in ({Outcome}) in the audit trail failed; the request goes on and a later one records it")]
    public static partial void SignInAuditFailed(ILogger logger, string method, string outcome, Exception exception);
}
