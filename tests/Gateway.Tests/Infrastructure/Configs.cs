namespace LlmMarketplace.Gateway.Tests.Infrastructure;

/// <summary>Configuration snippets for tests.</summary>
public static class Configs
{
    /// <summary>One OpenAI-compatible provider and a chat model (with optional embedding model) on it.</summary>
    public static string OpenAI(string baseUrl, string model = "gpt-4o-mini", string upstreamModel = "gpt-4", string extra = "") => $"""
        Providers:
          - Name: upstream
            Type: openai
            BaseUrl: {baseUrl}
        Models:
          - Name: {model}
            Deployments:
              - Provider: upstream
                Model: {upstreamModel}
                InputPerMTok: 0.15
                OutputPerMTok: 0.60
                CachedInputPerMTok: 0.075
          - Name: text-embedding-3-small
            Kind: embedding
            Deployments:
              - Provider: upstream
                Model: text-embedding-3-small
                InputPerMTok: 0.02
        {extra}
        """;
}
