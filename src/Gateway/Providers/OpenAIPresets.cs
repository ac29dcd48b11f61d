using System.Collections.Frozen;
using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Routing;

namespace LlmMarketplace.Gateway.Providers;

/// <summary>
/// A hosted service or local server that speaks OpenAI's protocol: where it lives, whether it needs a key (always sent
/// as <c>Authorization: Bearer</c>, and only when one is configured) and the request fields it refuses, which are dropped.
/// </summary>
internal sealed record OpenAIPreset(ProviderType Type, string Name, Uri DefaultBaseUrl, bool ApiKeyRequired, bool Local, FrozenSet<string> DroppedFields, string Description);

/// <summary>The OpenAI-compatible presets: data over <see cref="OpenAIAdapter"/>, one row each.</summary>
internal static class OpenAIPresets
{
    private static OpenAIPreset Hosted(ProviderType type, string name, string baseUrl, string description, params string[] dropped) =>
        new(type, name, new Uri(baseUrl), ApiKeyRequired: true, Local: false, dropped.ToFrozenSet(StringComparer.Ordinal), description);

    private static OpenAIPreset Server(ProviderType type, string name, string baseUrl, string description) =>
        new(type, name, new Uri(baseUrl), ApiKeyRequired: false, Local: true, FrozenSet<string>.Empty, description);

    public static readonly IReadOnlyList<OpenAIPreset> All =
    [
        Hosted(ProviderType.Mistral, "mistral", "https://api.mistral.ai/v1", "Mistral AI's La Plateforme"),
        // Groq answers 400 to these fields (its OpenAI compatibility notes).
        Hosted(ProviderType.Groq, "groq", "https://api.groq.com/openai/v1", "Groq", "logprobs", "top_logprobs", "logit_bias"),
        Hosted(ProviderType.Together, "together", "https://api.together.xyz/v1", "Together AI"),
        Hosted(ProviderType.Fireworks, "fireworks", "https://api.fireworks.ai/inference/v1", "Fireworks AI"),
        Hosted(ProviderType.DeepSeek, "deepseek", "https://api.deepseek.com", "DeepSeek"),
        Hosted(ProviderType.XAI, "xai", "https://api.x.ai/v1", "xAI (Grok)"),
        Hosted(ProviderType.OpenRouter, "openrouter", "https://openrouter.ai/api/v1", "OpenRouter (optional HTTP-Referer and X-Title headers via Headers)"),
        Hosted(ProviderType.Perplexity, "perplexity", "https://api.perplexity.ai", "Perplexity (Sonar)"),
        Server(ProviderType.Vllm, "vllm", "http://127.0.0.1:8000/v1", "vLLM's OpenAI-compatible server"),
        Server(ProviderType.Ollama, "ollama", "http://127.0.0.1:11434/v1", "Ollama"),
        Server(ProviderType.LMStudio, "lmstudio", "http://127.0.0.1:1234/v1", "LM Studio"),
        Server(ProviderType.LlamaCpp, "llamacpp", "http://127.0.0.1:8080/v1", "llama.cpp's llama-server"),
        Server(ProviderType.Tgi, "tgi", "http://127.0.0.1:8080/v1", "Hugging Face Text Generation Inference (Messages API)"),
    ];

    private static readonly FrozenDictionary<ProviderType, OpenAIPreset> ByType = All.ToFrozenDictionary(static p => p.Type);

    public static bool TryGet(ProviderType type, out OpenAIPreset preset) => ByType.TryGetValue(type, out preset!);
}

/// <summary>OpenAI's protocol as one preset speaks it: the client's body without the fields the preset refuses.</summary>
internal sealed class OpenAIPresetAdapter(OpenAIPreset preset) : OpenAIAdapter
{
    public OpenAIPreset Preset { get; } = preset;

    protected override byte[] ChatBody(RoutableDeployment deployment, ChatRequest request) =>
        RewriteBody(request.Root, deployment.Config.UpstreamModel, request.Stream, Preset.DroppedFields);
}
