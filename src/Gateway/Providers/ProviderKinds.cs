using LlmMarketplace.Gateway.Configuration;

namespace LlmMarketplace.Gateway.Providers;

/// <summary>Which kinds of model each provider type can serve: the operations its protocol has.</summary>
internal static class ProviderKinds
{
    public static bool Serves(ProviderType type, ModelKind kind) => kind switch
    {
        ModelKind.Chat => type != ProviderType.Local,
        ModelKind.Embedding => type is not (ProviderType.Anthropic or ProviderType.Bedrock or ProviderType.Vertex),
        ModelKind.Rerank => type is ProviderType.OpenAI or ProviderType.Cohere,
        ModelKind.Moderation or ModelKind.Image or ModelKind.Transcription or ModelKind.Speech => type == ProviderType.OpenAI,
        _ => false,
    };

    /// <summary>Why a model of <paramref name="kind"/> cannot be deployed on a provider of <paramref name="type"/>; null when it can (or another check says so).</summary>
    public static string? Refusal(ProviderType type, ModelKind kind)
    {
        // The local provider and Anthropic's missing embeddings have their own messages.
        if (Serves(type, kind) || type == ProviderType.Local || (type == ProviderType.Anthropic && kind == ModelKind.Embedding)) return null;
        if (kind == ModelKind.Embedding && type is ProviderType.Bedrock or ProviderType.Vertex)
        {
            return $"embeddings through a {type.ToString().ToLowerInvariant()} provider are not supported; deploy this embedding model elsewhere";
        }
        var name = kind.ToString().ToLowerInvariant();
        var article = "aeiou".Contains(name[0], StringComparison.Ordinal) ? "an" : "a";
        return kind == ModelKind.Rerank
            ? $"a {name} model needs a provider of type cohere or openai (an OpenAI-compatible server with /rerank), not {type.ToString().ToLowerInvariant()}"
            : $"{article} {name} model needs a provider of type openai, not {type.ToString().ToLowerInvariant()}";
    }
}
