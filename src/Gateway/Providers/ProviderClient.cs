using LlmMarketplace.BuildingBlocks.Net;
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
        var registration = ProviderRegistry.For(config.Type);
        Adapter = registration.Adapter;
        BasePath = config.BaseUrl.ToString().TrimEnd('/');
        if (config.Type == ProviderType.Local)
        {
            Invoker = new HttpMessageInvoker(new LocalModelHandler(), disposeHandler: true);
            return;
        }
        var sockets = OutboundHttp.CreateHandler(config.AddressPolicy, config.ConnectTimeout, TimeSpan.FromMinutes(10));
        sockets.EnableMultipleHttp2Connections = true;
        sockets.PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90);
        sockets.MaxConnectionsPerServer = int.MaxValue;
        sockets.ActivityHeadersPropagator = null;
        HttpMessageHandler handler = sockets;
        if (registration.Authenticate is { } authenticate)
        {
            handler = authenticate(config, handler);
        }
        Invoker = new HttpMessageInvoker(handler, disposeHandler: true);
    }

    public ProviderConfig Config { get; }

    public string Name => Config.Name;

    public IProviderAdapter Adapter { get; }

    /// <summary>The base URL without a trailing slash.</summary>
    public string BasePath { get; }

    public HttpMessageInvoker Invoker { get; }

    public void Dispose() => Invoker.Dispose();
}
