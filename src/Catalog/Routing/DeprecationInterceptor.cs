using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Catalog.Routing;

/// <summary>
/// Marks a gateway call with the catalog listing and version its model resolves to (recorded with its usage), and adds
/// <c>Deprecation</c> (RFC 9745), <c>Sunset</c> (RFC 8594) and a successor <c>Link</c> to responses for deprecated
/// listing versions.
/// </summary>
internal sealed class DeprecationInterceptor(CatalogState state) : IGatewayInterceptor
{
    public GatewayStage Stage => GatewayStage.Routing;

    public ValueTask<GatewayRejection?> BeforeAsync(GatewayCall call, CancellationToken cancellationToken)
    {
        if (!state.Current.TryResolveModel(call.Model, out var entry, out var version) || version is null)
        {
            return ValueTask.FromResult<GatewayRejection?>(null);
        }
        call.Listing = entry.Service.Slug;
        call.ListingVersion = version.Row.Version;
        if (version.Row.State == VersionStates.Deprecated)
        {
            var deprecatedAt = DateTimeOffset.TryParse(version.Row.UpdatedAt, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : DateTimeOffset.UnixEpoch;
            call.ResponseHeaders["Deprecation"] = "@" + deprecatedAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            if (DateTimeOffset.TryParse(version.Row.SunsetAt, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var sunset))
            {
                call.ResponseHeaders["Sunset"] = sunset.ToUniversalTime().ToString("r", CultureInfo.InvariantCulture);
            }
            if (!string.IsNullOrEmpty(version.Row.Replacement))
            {
                call.ResponseHeaders["Link"] = $"</v1/models/{version.Row.Replacement}>; rel=\"successor-version\"";
            }
        }
        return ValueTask.FromResult<GatewayRejection?>(null);
    }

    public ValueTask AfterAsync(GatewayCall call, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
