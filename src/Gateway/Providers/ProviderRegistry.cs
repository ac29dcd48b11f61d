using System.Collections.Frozen;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Providers.Bedrock;
using LlmMarketplace.Gateway.Providers.Vertex;

namespace LlmMarketplace.Gateway.Providers;

/// <summary>
/// How the gateway speaks to one provider type: its protocol adapter and, for providers that sign or authorise each
/// request themselves, the HTTP handler that does it (wrapped around the provider's connection handler).
/// </summary>
internal sealed record ProviderRegistration(IProviderAdapter Adapter, Func<ProviderConfig, HttpMessageHandler, HttpMessageHandler>? Authenticate = null);

/// <summary>The provider types the gateway knows: adding one is an adapter plus its row here (and its settings in the configuration reader).</summary>
internal static class ProviderRegistry
{
    private static readonly FrozenDictionary<ProviderType, ProviderRegistration> Registrations = Build();

    private static FrozenDictionary<ProviderType, ProviderRegistration> Build()
    {
        var table = new Dictionary<ProviderType, ProviderRegistration>
        {
            [ProviderType.OpenAI] = new(OpenAIAdapter.Instance),
            [ProviderType.AzureOpenAI] = new(AzureOpenAIAdapter.Instance),
            [ProviderType.Anthropic] = new(AnthropicAdapter.Instance),
            [ProviderType.Gemini] = new(GeminiAdapter.Instance),
            [ProviderType.Local] = new(OpenAIAdapter.Instance),
            [ProviderType.Cohere] = new(CohereAdapter.Instance),
            [ProviderType.Bedrock] = new(BedrockAdapter.Instance, static (config, inner) => new AwsSigV4Handler(config, inner)),
            [ProviderType.Vertex] = new(VertexAdapter.Instance, static (config, inner) => new GoogleAuthHandler(config, inner)),
        };
        foreach (var preset in OpenAIPresets.All)
        {
            table[preset.Type] = new(new OpenAIPresetAdapter(preset));
        }
        return table.ToFrozenDictionary();
    }

    public static ProviderRegistration For(ProviderType type) =>
        Registrations.TryGetValue(type, out var registration) ? registration : throw new InvalidOperationException($"Unknown provider type {type}.");
}
