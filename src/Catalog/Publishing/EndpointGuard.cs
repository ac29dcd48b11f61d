using System.Net;
using System.Net.Sockets;

namespace LlmMarketplace.Catalog.Publishing;

/// <summary>
/// SSRF protection for probes: resolves the host itself and connects only to an address that is allowed, so a DNS
/// name cannot smuggle a loopback, private or link-local target (nor rebind between check and connect).
/// </summary>
internal static class EndpointGuard
{
    public static bool IsPrivateOrLinkLocal(IPAddress ip)
    {
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        if (ip.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = ip.GetAddressBytes();
            return b[0] == 10 || (b[0] == 172 && b[1] >= 16 && b[1] <= 31) || (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254)
                || (b[0] == 100 && b[1] >= 64 && b[1] <= 127) || b[0] == 0 || b[0] >= 224;
        }
        return ip.IsIPv6LinkLocal || ip.IsIPv6SiteLocal || ip.IsIPv6UniqueLocal || ip.IsIPv6Multicast || ip.Equals(IPAddress.IPv6Any);
    }

    public static bool IsAllowed(IPAddress ip, CatalogOptions options)
    {
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        if (IPAddress.IsLoopback(ip)) return options.AllowLoopbackEndpoints;
        if (IsPrivateOrLinkLocal(ip)) return options.AllowPrivateEndpoints;
        return true;
    }

    /// <summary>An HTTP handler for probes: no proxy, no redirects, no cookies, guarded connects.</summary>
    public static SocketsHttpHandler CreateHandler(CatalogOptions options) => new()
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        ConnectTimeout = TimeSpan.FromSeconds(options.ProbeTimeoutSeconds),
        PooledConnectionLifetime = TimeSpan.FromMinutes(1),
        ConnectCallback = async (context, ct) =>
        {
            var host = context.DnsEndPoint.Host;
            var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
            var allowed = addresses.FirstOrDefault(a => IsAllowed(a, options))
                ?? throw new HttpRequestException($"the probe target {host} resolves only to addresses that are not allowed (loopback, private or link-local)");
            var socket = new Socket(allowed.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(allowed, context.DnsEndPoint.Port), ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };
}
