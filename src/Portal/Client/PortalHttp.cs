using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace LlmMarketplace.Portal.Client;

/// <summary>
/// One HTTP client to this very host: the portal calls the marketplace's public API (management and gateway)
/// with the signed-in user's credentials, exactly as any other client would, so the API's rules apply unchanged.
/// </summary>
internal sealed class PortalHttp(IServer server) : IDisposable
{
    private readonly HttpClient _client = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        ConnectTimeout = TimeSpan.FromSeconds(10),
    })
    { Timeout = Timeout.InfiniteTimeSpan };

    private Uri? _base;

    public HttpClient Client => _client;

    /// <summary>The loopback address the host listens on (a wildcard binding is reached through 127.0.0.1).</summary>
    public Uri BaseAddress => _base ??= Resolve();

    public Uri Url(string relative) => new(BaseAddress, relative.TrimStart('/'));

    private Uri Resolve()
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var address = addresses.FirstOrDefault(static a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) ?? addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("The host listens on no address the portal can call.");
        var uri = new UriBuilder(address.Replace("://*", "://127.0.0.1", StringComparison.Ordinal).Replace("://+", "://127.0.0.1", StringComparison.Ordinal));
        if (uri.Host is "0.0.0.0" or "[::]" or "::") uri.Host = "127.0.0.1";
        uri.Path = "/";
        return uri.Uri;
    }

    public void Dispose() => _client.Dispose();
}
