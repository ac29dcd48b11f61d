using LlmMarketplace.Catalog.Contracts;

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
            Compliance = ComplianceOf(version.Spec),
        };

    private static ListingCompliance ComplianceOf(Listings.ListingSpec spec)
    {
        var deployments = spec.Deployments ?? [];
        return new ListingCompliance(
            spec.Compliance?.MaxDataClassification,
            spec.Compliance?.ZeroRetention == true,
            spec.Compliance?.Certifications?.Where(static c => !string.IsNullOrWhiteSpace(c)).ToList() ?? [],
            deployments.SelectMany(static d => new[] { d.Region, d.DataResidency }).Where(static r => !string.IsNullOrWhiteSpace(r)).Select(static r => r!)
                .Distinct(StringComparer.OrdinalIgnoreCase).ToList(),
            deployments.Select(static d => d.Provider).Where(static p => !string.IsNullOrWhiteSpace(p)).Select(static p => p!)
                .Distinct(StringComparer.OrdinalIgnoreCase).ToList());
    }
}
