namespace LlmMarketplace.Catalog.Contracts;

/// <summary>A listing version a gateway model name routes to, with the SLA its publisher promises (null where none).</summary>
public sealed record ListingTargets(string ListingId, string Slug, string Version, double? P95LatencyMs, double? UptimePercent)
{
    /// <summary>Who publishes the listing: the owning team's id, or <c>platform</c> for the gateway's configured models.</summary>
    public string Publisher { get; init; } = "";

    /// <summary>The version's compliance facts as its publisher declared them (policies judge calls by them).</summary>
    public ListingCompliance Compliance { get; init; } = ListingCompliance.None;

    /// <summary><c>slug@version</c>: how analytics and SLA tracking name a listing version.</summary>
    public string Name => $"{Slug}@{Version}";
}

/// <summary>
/// A listing version's compliance facts: the most sensitive data classification it accepts (<c>public</c>,
/// <c>internal</c>, <c>confidential</c>, <c>restricted</c>; null when undeclared), whether it keeps no data, its
/// certifications, and where and by whom it is served (its deployments' regions and providers).
/// </summary>
public sealed record ListingCompliance(string? MaxDataClassification, bool ZeroRetention, IReadOnlyList<string> Certifications,
    IReadOnlyList<string> Regions, IReadOnlyList<string> Providers)
{
    public static readonly ListingCompliance None = new(null, false, [], [], []);
}

/// <summary>Answers which catalog listing version a model name routes to (implemented by Catalog, read by Insights).</summary>
public interface IListingDirectory
{
    /// <summary>The listing version for <c>slug</c> (its current version) or <c>slug@version</c>; null for models outside the catalog.</summary>
    ListingTargets? FindByModel(string model);

    /// <summary>Every routable listing version.</summary>
    IReadOnlyList<ListingTargets> All();
}
