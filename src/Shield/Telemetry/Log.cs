using Microsoft.Extensions.Logging;

namespace LlmMarketplace.Shield.Telemetry;

/// <summary>The shield's log messages: finding types and counts only, never the scanned text.</summary>
internal static partial class Log
{
    [LoggerMessage(6001, LogLevel.Information, "Shield {Direction} findings on request {RequestId} (model {Model}): {Findings}; action {Action}")]
    public static partial void Findings(ILogger logger, string direction, string requestId, string model, string findings, string action);

    [LoggerMessage(6002, LogLevel.Information, "Shield loaded: classifier threshold {Threshold}, {Scopes} scopes")]
    public static partial void Loaded(ILogger logger, float threshold, int scopes);
}
