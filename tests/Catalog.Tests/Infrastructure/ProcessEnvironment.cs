namespace LlmMarketplace.Catalog.Tests.Infrastructure;

/// <summary>
/// Tests that set or clear an environment variable of the process (<c>OPENROUTER_API_KEY</c> decides whether imported
/// OpenRouter models are callable, and so listed) run in this collection: one at a time, never beside each other.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessEnvironment
{
    public const string Name = "process environment";

    /// <summary>The variable an imported OpenRouter listing's deployment references for its key.</summary>
    public const string OpenRouterKey = "OPENROUTER_API_KEY";
}
