using Microsoft.Extensions.Logging;

namespace LlmMarketplace.Gateway.Telemetry;

/// <summary>The gateway's log messages. Prompts, completions and secrets are never logged.</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Warning, "Upstream attempt {Attempt} to deployment {Deployment} failed: {Reason}")]
    public static partial void AttemptFailed(ILogger logger, int attempt, string deployment, string reason);

    [LoggerMessage(1002, LogLevel.Warning, "Circuit of deployment {Deployment} is {State}")]
    public static partial void CircuitChanged(ILogger logger, string deployment, string state);

    [LoggerMessage(1003, LogLevel.Error, "All deployments of model {Model} failed after {Attempts} attempts")]
    public static partial void AllDeploymentsFailed(ILogger logger, string model, int attempts);

    [LoggerMessage(1004, LogLevel.Warning, "Upstream stream of deployment {Deployment} ended before completion: {Reason}")]
    public static partial void StreamInterrupted(ILogger logger, string deployment, string reason);

    [LoggerMessage(1005, LogLevel.Information, "Gateway configuration loaded: {Providers} providers, {Models} models")]
    public static partial void ConfigurationLoaded(ILogger logger, int providers, int models);

    [LoggerMessage(1006, LogLevel.Debug, "Client disconnected; upstream call to {Deployment} cancelled")]
    public static partial void ClientDisconnected(ILogger logger, string deployment);
}
