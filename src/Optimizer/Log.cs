namespace LlmMarketplace.Optimizer;

/// <summary>The optimizer's log messages (event ids 8100-8199).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 8100, Level = LogLevel.Debug, Message = "Feedback on a call to model {Model} stored (new: {Created})")]
    public static partial void FeedbackStored(ILogger logger, string model, bool created);

    [LoggerMessage(EventId = 8110, Level = LogLevel.Information, Message = "Experiment {ExperimentId} on model {Model} changed to {Status}")]
    public static partial void ExperimentChanged(ILogger logger, string experimentId, string model, string status);

    [LoggerMessage(EventId = 8111, Level = LogLevel.Error, Message = "{Count} experiment calls could not be written; their guard metrics are missing from the results")]
    public static partial void ExperimentCallsLost(ILogger logger, int count, Exception exception);
}
