namespace LlmMarketplace.Insights.Telemetry;

/// <summary>The Insights module's log messages (event ids 7000-7999).</summary>
internal static partial class Log
{
    [LoggerMessage(7001, LogLevel.Error, "Rolling up usage failed; retrying")]
    public static partial void RollupFailed(ILogger logger, Exception exception);

    [LoggerMessage(7002, LogLevel.Debug, "Rolled up {Count} usage records up to sequence {Position}")]
    public static partial void RolledUp(ILogger logger, int count, long position);

    [LoggerMessage(7003, LogLevel.Information, "Another replica advanced the {Cursor} cursor; reading again")]
    public static partial void CursorMoved(ILogger logger, string cursor);

    [LoggerMessage(7004, LogLevel.Warning, "Stepped over missing usage sequence numbers {From}..{To} after waiting for them")]
    public static partial void GapSkipped(ILogger logger, long from, long to);

    [LoggerMessage(7005, LogLevel.Information, "Pruned {Count} rollup rows of granularity {Granularity}")]
    public static partial void Pruned(ILogger logger, int count, string granularity);

    [LoggerMessage(7010, LogLevel.Warning, "SLA violated: {Listing} on {Deployment}, {Target} measured {Measured} against {Objective}")]
    public static partial void SlaViolated(ILogger logger, string listing, string deployment, string target, double measured, double objective);

    [LoggerMessage(7011, LogLevel.Information, "SLA violation resolved: {Listing} on {Deployment}, {Target}")]
    public static partial void SlaResolved(ILogger logger, string listing, string deployment, string target);

    [LoggerMessage(7020, LogLevel.Warning, "Alert fired: {Type} on {Scope} (value {Value}, threshold {Threshold})")]
    public static partial void AlertFired(ILogger logger, string type, string scope, double value, double threshold);

    [LoggerMessage(7021, LogLevel.Information, "Alert resolved: {Type} on {Scope}")]
    public static partial void AlertResolved(ILogger logger, string type, string scope);

    [LoggerMessage(7022, LogLevel.Warning, "Automated response {Action} taken for {Scope}")]
    public static partial void ResponseTaken(ILogger logger, string action, string scope);

    [LoggerMessage(7023, LogLevel.Error, "Evaluating the incident detectors failed")]
    public static partial void DetectorsFailed(ILogger logger, Exception exception);

    [LoggerMessage(7030, LogLevel.Error, "The webhook delivery loop failed; retrying")]
    public static partial void DeliveryLoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(7031, LogLevel.Information, "Webhook delivery {DeliveryId} attempt {Attempt} failed with status {Status}; retrying later")]
    public static partial void DeliveryRetry(ILogger logger, string deliveryId, int attempt, int status);

    [LoggerMessage(7032, LogLevel.Warning, "Webhook delivery {DeliveryId} to {WebhookId} gave up after {Attempts} attempts")]
    public static partial void DeliveryFailed(ILogger logger, string deliveryId, string webhookId, int attempts);

    [LoggerMessage(7040, LogLevel.Error, "Events out failed; retrying")]
    public static partial void EventsOutFailed(ILogger logger, Exception exception);

    [LoggerMessage(7041, LogLevel.Debug, "Sent {Count} events to {Sink}")]
    public static partial void EventsSent(ILogger logger, int count, string sink);

    [LoggerMessage(7042, LogLevel.Error, "Appending a {Type} event failed")]
    public static partial void EventAppendFailed(ILogger logger, string type, Exception exception);

    [LoggerMessage(7100, LogLevel.Information, "{EventType} {EventId} {Event}")]
    public static partial void EventOut(ILogger logger, string eventType, string eventId, string @event);

    [LoggerMessage(7050, LogLevel.Information, "Closed {Count} statements of {Month}")]
    public static partial void StatementsClosed(ILogger logger, int count, string month);

    [LoggerMessage(7051, LogLevel.Warning, "Closing last month's statements failed; retrying")]
    public static partial void StatementCloseFailed(ILogger logger, Exception exception);
}
