namespace LlmMarketplace.TestKit;

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

    /// <summary>A plain chat completion (5 prompt and 1 completion tokens) answered by the data-plane test upstreams.</summary>
    public const string Completion = """{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}""";

    /// <summary>
    /// The data plane's request-checking tests: a body-size limit, a chat model, an embedding model and, when given, a
    /// chat model with a tiny context window (<c>tiny-context</c>), all on one OpenAI-compatible upstream.
    /// </summary>
    public static string DataPlane(string upstreamBaseUrl, int maxRequestBodyBytes, int? tinyContextWindow = null)
    {
        var tiny = tinyContextWindow is { } window ? $"""

              - Name: tiny-context
                ContextWindow: {window}
                Deployments:
                  - Provider: upstream
                    Model: up
            """ : "";
        return $"""
            Gateway:
              MaxRequestBodyBytes: {maxRequestBodyBytes}
            Providers:
              - Name: upstream
                Type: openai
                BaseUrl: {upstreamBaseUrl}/v1
            Models:
              - Name: gpt-4o-mini
                Deployments:
                  - Provider: upstream
                    Model: up{tiny}
              - Name: text-embedding-3-small
                Kind: embedding
                Deployments:
                  - Provider: upstream
                    Model: e
            """;
    }
}
