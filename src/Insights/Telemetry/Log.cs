using Microsoft.Extensions.Logging;

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
}
