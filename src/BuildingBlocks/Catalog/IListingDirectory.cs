namespace LlmMarketplace.BuildingBlocks.Catalog;

/// <summary>A listing version a gateway model name routes to, with the SLA its publisher promises (null where none).</summary>
public sealed record ListingTargets(string ListingId, string Slug, string Version, double? P95LatencyMs, double? UptimePercent)
{
    /// <summary>Who publishes the listing: the owning team's id, or <c>platform</c> for the gateway's configured models.</summary>
    public string Publisher { get; init; } = "";

    /// <summary><c>slug@version</c>: how analytics and SLA tracking name a listing version.</summary>
    public string Name => $"{Slug}@{Version}";
}

/// <summary>Answers which catalog listing version a model name routes to (implemented by Catalog, read by Insights).</summary>
public interface IListingDirectory
{
    /// <summary>The listing version for <c>slug</c> (its current version) or <c>slug@version</c>; null for models outside the catalog.</summary>
    ListingTargets? FindByModel(string model);

    /// <summary>Every routable listing version.</summary>
    IReadOnlyList<ListingTargets> All();
}
