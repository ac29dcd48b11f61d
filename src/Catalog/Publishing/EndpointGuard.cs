using LlmMarketplace.BuildingBlocks.Net;

namespace LlmMarketplace.Catalog.Publishing;

/// <summary>
/// SSRF protection for publishers' endpoints: the catalog's <see cref="OutboundAddressPolicy"/>, applied by the probe
/// that checks a submitted version and by the gateway on every connection to a published deployment.
/// </summary>
internal static class EndpointGuard
{
    public static OutboundAddressPolicy Policy(CatalogOptions options) => new(options.AllowLoopbackEndpoints, options.AllowPrivateEndpoints);

    /// <summary>An HTTP handler for probes: no proxy, no redirects, no cookies, guarded connects.</summary>
    public static SocketsHttpHandler CreateHandler(CatalogOptions options) =>
        OutboundHttp.CreateHandler(Policy(options), TimeSpan.FromSeconds(options.ProbeTimeoutSeconds), TimeSpan.FromMinutes(1));
}
