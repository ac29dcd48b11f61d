using System.Net;
using System.Net.Sockets;

namespace LlmMarketplace.BuildingBlocks.Net;

/// <summary>
/// Which addresses an outbound connection may reach: the SSRF guard for endpoints that someone other than the operator
/// chose (a publisher's base URL, a probe target). It is applied on every connection, after name resolution, so a DNS
/// name cannot smuggle a loopback, private or link-local target, nor rebind to one after a check made earlier.
/// </summary>
public sealed record OutboundAddressPolicy(bool AllowLoopback, bool AllowPrivate)
{
    /// <summary>Public addresses only.</summary>
    public static readonly OutboundAddressPolicy PublicOnly = new(false, false);

    /// <summary>RFC 1918, carrier-grade NAT, link-local, "this network", multicast and reserved IPv4; link-local, site-local, unique-local and multicast IPv6.</summary>
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

    public bool IsAllowed(IPAddress ip)
    {
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        if (IPAddress.IsLoopback(ip)) return AllowLoopback;
        if (IsPrivateOrLinkLocal(ip)) return AllowPrivate;
        return true;
    }

    /// <summary>
    /// A <see cref="SocketsHttpHandler.ConnectCallback"/> that resolves the host itself and connects only to allowed
    /// addresses, trying each in the resolver's order (a name may have an IPv6 and an IPv4 address, only one of them
    /// listening); a host with none fails the request with an <see cref="HttpRequestException"/> naming it.
    /// </summary>
    public Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> ConnectCallback() => async (context, cancellationToken) =>
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
        var allowed = addresses.Where(IsAllowed).ToList();
        if (allowed.Count == 0)
        {
            throw new HttpRequestException(HttpRequestError.ConnectionError,
                $"{host} resolves only to addresses that are not allowed (loopback, private or link-local)");
        }
        for (var i = 0; ; i++)
        {
            var socket = new Socket(allowed[i].AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(allowed[i], context.DnsEndPoint.Port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException) when (i < allowed.Count - 1)
            {
                socket.Dispose();
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
    };
}
