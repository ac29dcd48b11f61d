namespace LlmMarketplace.Catalog.Registry;

/// <summary>
/// The configured registry sources (<c>Catalog:Sources</c>) for callers outside the catalog's HTTP API, such as the
/// command line: a sync by name runs the same code, with the same lease, audit and events, as the API and the schedule.
/// </summary>
public sealed class CatalogSources
{
    private readonly CatalogOptions _options;
    private readonly SourceSync _sync;

    internal CatalogSources(CatalogOptions options, SourceSync sync)
    {
        _options = options;
        _sync = sync;
    }

    /// <summary>The names of the configured sources, in configuration order.</summary>
    public IReadOnlyList<string> Names => _options.Sources.Select(static s => s.Name).ToList();

    internal RegistrySource? Find(string name) => _options.Sources.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.Ordinal));

    /// <summary>
    /// Syncs the source <paramref name="name"/> now as <paramref name="actor"/>. Null when another sync of that source
    /// holds its lease; <see cref="KeyNotFoundException"/> when no source has that name; <see cref="SourceUnreadableException"/>
    /// when the source could not be read.
    /// </summary>
    public Task<SyncResult?> SyncAsync(string name, bool dryRun, string actor, CancellationToken ct)
    {
        var source = Find(name) ?? throw new KeyNotFoundException(UnknownSource(name));
        return _sync.SyncAsync(source, dryRun, actor, ct);
    }

    /// <summary>Why <paramref name="name"/> is not a source, naming the configured ones.</summary>
    public string UnknownSource(string name) =>
        $"No source '{name}'; " + (_options.Sources.Count == 0 ? "none is configured (Catalog:Sources)." : "configured: " + string.Join(", ", Names) + ".");
}
