namespace LlmMarketplace.BuildingBlocks.Validation;

/// <summary>Thrown at start when configuration has errors; carries every one of them with its path.</summary>
public sealed class InvalidConfigurationException(ValidationErrors errors)
    : Exception("The configuration is invalid:" + Environment.NewLine + errors)
{
    public ValidationErrors Errors { get; } = errors;
}
