namespace LlmMarketplace.BuildingBlocks.Net;

/// <summary>
/// The one place outbound HTTP handlers are built: no proxy, no redirects, no cookies, no decompression, pooled
/// connections recycled after a lifetime, and, when an <see cref="OutboundAddressPolicy"/> is given, every connection
/// checked by it after name resolution. Callers tune the rest (HTTP/2, pool sizes) on the handler they get.
/// </summary>
public static class OutboundHttp
{
    public static SocketsHttpHandler CreateHandler(OutboundAddressPolicy? policy, TimeSpan connectTimeout, TimeSpan pooledConnectionLifetime) => new()
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        AutomaticDecompression = System.Net.DecompressionMethods.None,
        ConnectTimeout = connectTimeout,
        PooledConnectionLifetime = pooledConnectionLifetime,
        ConnectCallback = policy?.ConnectCallback(),
    };
}
