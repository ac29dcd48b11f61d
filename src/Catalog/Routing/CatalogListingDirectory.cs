using LlmMarketplace.BuildingBlocks.Catalog;

namespace LlmMarketplace.Catalog.Routing;

/// <summary>Reads listing versions and their SLA targets from the in-memory catalog snapshot.</summary>
internal sealed class CatalogListingDirectory(CatalogState state) : IListingDirectory
{
    public ListingTargets? FindByModel(string model) =>
        state.Current.TryResolveModel(model, out var entry, out var version) ? ToTargets(entry, version) : null;

    public IReadOnlyList<ListingTargets> All() =>
        [.. state.Current.Entries.SelectMany(static e => e.Routable.Select(v => ToTargets(e, v)))];

    private static ListingTargets ToTargets(CatalogEntry entry, RoutableVersion version) =>
        new(entry.Service.Id, entry.Service.Slug, version.Row.Version, version.Spec.Sla?.P95LatencyMs, version.Spec.Sla?.UptimePercent)
        {
            Publisher = entry.Service.Publisher,
        };
}
