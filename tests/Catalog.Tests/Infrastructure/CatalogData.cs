using LlmMarketplace.Catalog.Import;
using LlmMarketplace.Catalog.Listings;
using LlmMarketplace.Catalog.Search;
using LlmMarketplace.Catalog.Storage;

namespace LlmMarketplace.Catalog.Tests.Infrastructure;

/// <summary>The shared real catalogs (read from the shared data folder beside the repository) and indexes built from them.</summary>
public static class CatalogData
{
    public static string OpenRouterFile => Path.GetFullPath(Path.Combine(TestPaths.RepositoryRoot, "..", "shared", "data", "openrouter-models.json"));

    public static string ModelsDevFile => Path.GetFullPath(Path.Combine(TestPaths.RepositoryRoot, "..", "shared", "data", "models-dev.json"));

    private static readonly Lazy<IReadOnlyList<ListingSpec>> OpenRouterListings = new(() =>
    {
        using var stream = File.OpenRead(OpenRouterFile);
        return CatalogImporter.Read(stream).Listings;
    });

    private static readonly Lazy<SearchIndex> OpenRouterIndexLazy = new(() => BuildIndex(OpenRouterListings.Value));

    public static IReadOnlyList<ListingSpec> OpenRouter => OpenRouterListings.Value;

    internal static SearchIndex OpenRouterIndex => OpenRouterIndexLazy.Value;

    /// <summary>An index over listings as if each were published as 1.0.0 (ids are the slugs).</summary>
    internal static SearchIndex BuildIndex(IEnumerable<ListingSpec> listings) => SearchIndex.Build(listings.Select(static spec =>
    {
        var service = new ServiceRow { Id = spec.Slug!, Slug = spec.Slug!, Name = spec.Name!, Publisher = spec.Publisher ?? "", Source = "test", CreatedAt = "2026-01-01T00:00:00Z", UpdatedAt = "2026-01-01T00:00:00Z" };
        var row = new VersionRow { Id = spec.Slug!, ServiceId = spec.Slug!, Version = "1.0.0", State = VersionStates.Published };
        SemVer.TryParse("1.0.0", out var v);
        var version = new RoutableVersion(row, spec, v);
        return CatalogState.ToDocument(new CatalogEntry(service, version, [version], 0, 0));
    }));
}
