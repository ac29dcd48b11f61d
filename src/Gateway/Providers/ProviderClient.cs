using System.Net;
using LlmMarketplace.Gateway.Configuration;

namespace LlmMarketplace.Gateway.Providers;

/// <summary>
/// One upstream provider: its configuration, its protocol adapter and one long-lived
/// <see cref="HttpMessageInvoker"/> over a tuned <see cref="SocketsHttpHandler"/>, rebuilt only when its configuration changes.
/// </summary>
internal sealed class ProviderClient : IDisposable
{
    public ProviderClient(ProviderConfig config)
    {
        Config = config;
        Adapter = config.Type switch
        {
            ProviderType.OpenAI => OpenAIAdapter.Instance,
            ProviderType.AzureOpenAI => AzureOpenAIAdapter.Instance,
            ProviderType.Anthropic => AnthropicAdapter.Instance,
            ProviderType.Gemini => GeminiAdapter.Instance,
            ProviderType.Local => OpenAIAdapter.Instance,
            ProviderType.Cohere => CohereAdapter.Instance,
            _ => throw new InvalidOperationException($"Unknown provider type {config.Type}."),
        };
        BasePath = config.BaseUrl.ToString().TrimEnd('/');
        Invoker = config.Type == ProviderType.Local ? new HttpMessageInvoker(new LocalModelHandler(), disposeHandler: true) : new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = config.ConnectTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            MaxConnectionsPerServer = int.MaxValue,
            ActivityHeadersPropagator = null,
            ConnectCallback = config.AddressPolicy?.ConnectCallback(),
        }, disposeHandler: true);
    }

    public ProviderConfig Config { get; }

    public string Name => Config.Name;

    public IProviderAdapter Adapter { get; }

    /// <summary>The base URL without a trailing slash.</summary>
    public string BasePath { get; }

    public HttpMessageInvoker Invoker { get; }

    public void Dispose() => Invoker.Dispose();
}
