using LlmMarketplace.Gateway.Routing;

namespace LlmMarketplace.Gateway.Providers;

/// <summary>
/// Azure OpenAI: OpenAI's bodies on deployment URLs
/// (<c>{BaseUrl}/openai/deployments/{deployment}/chat/completions?api-version=…</c>) with the <c>api-key</c> header.
/// The deployment's <c>Model</c> is the Azure deployment name.
/// </summary>
internal sealed class AzureOpenAIAdapter : OpenAIAdapter
{
    public static new readonly AzureOpenAIAdapter Instance = new();

    protected override string ChatUrl(RoutableDeployment d) => DeploymentUrl(d, "chat/completions");

    protected override string EmbeddingsUrl(RoutableDeployment d) => DeploymentUrl(d, "embeddings");

    private static string DeploymentUrl(RoutableDeployment d, string operation)
    {
        var basePath = d.Provider.BasePath;
        var prefix = basePath.EndsWith("/openai", StringComparison.OrdinalIgnoreCase) ? basePath : basePath + "/openai";
        return $"{prefix}/deployments/{Uri.EscapeDataString(d.Config.UpstreamModel)}/{operation}?api-version={Uri.EscapeDataString(d.Provider.Config.ApiVersion ?? "2024-10-21")}";
    }

    protected override void AddAuth(HttpRequestMessage message, ProviderClient provider)
    {
        if (provider.Config.ApiKey is { Length: > 0 } key)
        {
            message.Headers.TryAddWithoutValidation("api-key", key);
        }
        AddExtraHeaders(message, provider);
    }
}
