using LlmMarketplace.BuildingBlocks.Secrets;
using System.Diagnostics;
using LlmMarketplace.Catalog.Search;
using LlmMarketplace.Catalog.Storage;
using Microsoft.Extensions.Primitives;
using LlmMarketplace.Governance.Contracts;

namespace LlmMarketplace.Catalog;

/// <summary>A routable version of a listing (published or deprecated).</summary>
internal sealed record RoutableVersion(VersionRow Row, ListingSpec Spec, SemVer Version);

/// <summary>A listing as the catalog serves it: the service, its current version (the newest published, else the newest deprecated) and every routable version.</summary>
internal sealed record CatalogEntry(ServiceRow Service, RoutableVersion Current, IReadOnlyList<RoutableVersion> Routable, double Rating, long RatingCount);

/// <summary>An immutable view of the routable catalog with its search index.</summary>
internal sealed record CatalogSnapshot(IReadOnlyList<CatalogEntry> Entries, IReadOnlyDictionary<string, CatalogEntry> BySlug, IReadOnlyDictionary<string, CatalogEntry> ById, SearchIndex Index)
{
    /// <summary>The values of the <c>secret:NAME</c> references the routable deployments use, read from the secret store at load.</summary>
    public IReadOnlyDictionary<string, string> Secrets { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The <c>env:NAME</c> references of routable deployments set in this replica's environment at load (<see cref="Routing.Callability"/>).</summary>
    public IReadOnlySet<string> Environment { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    public static readonly CatalogSnapshot Empty = new([], new Dictionary<string, CatalogEntry>(), new Dictionary<string, CatalogEntry>(), SearchIndex.Build([]));

    /// <summary>Finds the version a gateway model name refers to: <c>slug</c> (current) or <c>slug@version</c>.</summary>
    public bool TryResolveModel(string model, out CatalogEntry entry, out RoutableVersion version)
    {
        version = null!;
        var at = model.LastIndexOf('@');
        if (BySlug.TryGetValue(model, out entry!))
        {
            version = entry.Current;
            return true;
        }
        if (at > 0 && BySlug.TryGetValue(model[..at], out entry!))
        {
            var wanted = model[(at + 1)..];
            version = entry.Routable.FirstOrDefault(v => v.Row.Version == wanted)!;
            return version is not null;
        }
        return false;
    }
}

/// <summary>
/// Holds the routable catalog in memory (search index and gateway routes), rebuilt from the database after every
/// change and periodically (for changes made by other replicas), and signals the gateway when it changed.
/// </summary>
internal sealed class CatalogState(CatalogStore store, EmbeddingClient embeddings, TimeProvider time, ISecretStore secrets, ILogger<CatalogState> logger)
{
    public EmbeddingClient Embeddings => embeddings;

    private readonly SemaphoreSlim _reloadLock = new(1, 1);
    private CatalogSnapshot _snapshot = CatalogSnapshot.Empty;
    private CancellationTokenSource _changed = new();

    public CatalogSnapshot Current => Volatile.Read(ref _snapshot);

    public IChangeToken GetChangeToken() => new CancellationChangeToken(Volatile.Read(ref _changed).Token);

    public async Task ReloadAsync(CancellationToken ct)
    {
        await _reloadLock.WaitAsync(ct);
        try
        {
            var started = Stopwatch.GetTimestamp();
            var (services, versions, ratings) = await store.LoadAllAsync(ct);
            var ratingBy = ratings.ToDictionary(static r => r.ServiceId, StringComparer.Ordinal);
            var versionsBy = versions.Where(static v => VersionStates.IsRoutable(v.State)).ToLookup(static v => v.ServiceId, StringComparer.Ordinal);
            var entries = new List<CatalogEntry>();
            foreach (var service in services)
            {
                var routable = new List<RoutableVersion>();
                foreach (var v in versionsBy[service.Id])
                {
                    if (!SemVer.TryParse(v.Version, out var semver)) continue;
                    routable.Add(new RoutableVersion(v, CatalogJson.Deserialize<ListingSpec>(v.Spec), semver));
                }
                if (routable.Count == 0) continue;
                routable.Sort(static (a, b) => b.Version.CompareTo(a.Version));
                var current = routable.FirstOrDefault(static v => v.Row.State == VersionStates.Published) ?? routable[0];
                ratingBy.TryGetValue(service.Id, out var rating);
                entries.Add(new CatalogEntry(service, current, routable, rating?.Average ?? 0, rating?.Count ?? 0));
            }
            var docs = entries.Select(ToDocument).ToList();
            var index = embeddings.Enabled ? SearchIndex.Build(docs, await VectorsAsync(entries, ct)) : SearchIndex.Build(docs);
            var snapshot = new CatalogSnapshot(
                entries,
                entries.ToDictionary(static e => e.Service.Slug, StringComparer.Ordinal),
                entries.ToDictionary(static e => e.Service.Id, StringComparer.Ordinal),
                index)
            {
                Secrets = await StoredSecretsAsync(entries, ct),
                Environment = Routing.Callability.SetEnvironmentReferences(entries),
            };
            var first = ReferenceEquals(_snapshot, CatalogSnapshot.Empty);
            var changed = !SameRoutes(_snapshot, snapshot);
            Volatile.Write(ref _snapshot, snapshot);
            var elapsed = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            // One line per real event: the periodic catch-up that found nothing new stays at Debug.
            if (first || changed) Log.CatalogLoaded(logger, services.Count, entries.Count, index.TermCount, elapsed);
            else Log.CatalogReloaded(logger, services.Count, entries.Count, elapsed);
            if (changed)
            {
                var old = Interlocked.Exchange(ref _changed, new CancellationTokenSource());
                await old.CancelAsync();
                old.Dispose();
            }
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    /// <summary>Embeddings of the current versions: stored ones, and for versions published since, computed now (in batches) and stored.</summary>
    private async Task<List<float[]?>> VectorsAsync(List<CatalogEntry> entries, CancellationToken ct)
    {
        var model = embeddings.Model!;
        var stored = await store.EmbeddingsAsync(model, ct);
        var missing = entries.Where(e => !stored.ContainsKey(e.Current.Row.Id)).ToList();
        // Every vector came from storage: queries will still need the model, so load it now rather than on the first search.
        if (missing.Count == 0 && stored.Count > 0) embeddings.WarmUp();
        foreach (var batch in missing.Chunk(64))
        {
            try
            {
                var vectors = await embeddings.EmbedAsync(batch.Select(static e => EmbeddingText(e.Current.Spec)).ToList(), TimeSpan.FromSeconds(30), ct);
                if (vectors is null) break;
                var rows = batch.Select((e, i) => (e.Current.Row.Id, EmbeddingClient.Encode(vectors[i]))).ToList();
                await store.InsertEmbeddingsAsync(model, rows, time.GetUtcNow().ToString("O", System.Globalization.CultureInfo.InvariantCulture), ct);
                foreach (var (id, vector) in rows) stored[id] = vector;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException && !ct.IsCancellationRequested)
            {
                Log.EmbeddingFailed(logger, ex);
                break;
            }
        }
        return entries.Select(e => stored.TryGetValue(e.Current.Row.Id, out var v) ? EmbeddingClient.Decode(v) : null).ToList();
    }

    /// <summary>What a listing's embedding represents: its name, tags, category and description.</summary>
    public static string EmbeddingText(ListingSpec spec) =>
        $"{spec.Name}\n{string.Join(", ", spec.Tags ?? [])}\n{spec.Category}\n{spec.Description}";

    /// <summary>Reads the <c>secret:NAME</c> references of routable deployments from the secret store .</summary>
    private async Task<Dictionary<string, string>> StoredSecretsAsync(List<CatalogEntry> entries, CancellationToken ct)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = entries.SelectMany(static e => e.Routable).SelectMany(static v => v.Spec.Deployments ?? [])
            .Select(static d => SecretReference.StoredSecretName(d.ApiKey)).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        if (names.Count == 0) return values;
        foreach (var name in names)
        {
            if (await secrets.GetAsync(name, ct) is { } value) values[name] = value;
            else Log.SecretMissing(logger, name);
        }
        return values;
    }

    private static bool SameRoutes(CatalogSnapshot a, CatalogSnapshot b)
    {
        if (a.Entries.Count != b.Entries.Count) return false;
        if (a.Secrets.Count != b.Secrets.Count || a.Secrets.Any(s => !b.Secrets.TryGetValue(s.Key, out var v) || v != s.Value)) return false;
        if (!a.Environment.SetEquals(b.Environment)) return false;
        foreach (var e in b.Entries)
        {
            if (!a.ById.TryGetValue(e.Service.Id, out var old) || old.Routable.Count != e.Routable.Count) return false;
            for (var i = 0; i < e.Routable.Count; i++)
            {
                var x = old.Routable[i].Row;
                var y = e.Routable[i].Row;
                if (x.Id != y.Id || x.State != y.State || x.UpdatedAt != y.UpdatedAt) return false;
            }
        }
        return true;
    }

    public static SearchDocument ToDocument(CatalogEntry entry)
    {
        var spec = entry.Current.Spec;
        var deployments = spec.Deployments ?? [];
        var regions = deployments.SelectMany(static d => new[] { d.Region, d.DataResidency }).Where(static r => !string.IsNullOrWhiteSpace(r)).Select(static r => r!).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        return new SearchDocument
        {
            Id = entry.Service.Id,
            Slug = entry.Service.Slug,
            Name = spec.Name ?? entry.Service.Name,
            Description = spec.Description ?? "",
            Tags = spec.Tags ?? [],
            Publisher = spec.Publisher ?? entry.Service.Publisher,
            Providers = deployments.Select(static d => d.Provider).Where(static p => !string.IsNullOrWhiteSpace(p)).Select(static p => p!).Distinct(StringComparer.OrdinalIgnoreCase).ToList(),
            Category = spec.Category ?? "",
            Kind = spec.Kind ?? ListingKinds.Chat,
            InputModalities = spec.InputModalities ?? [],
            OutputModalities = spec.OutputModalities ?? [],
            InputPrice = spec.Pricing?.InputPerMTok,
            OutputPrice = spec.Pricing?.OutputPerMTok,
            ContextLength = spec.ContextLength,
            Certifications = spec.Compliance?.Certifications ?? [],
            Regions = regions,
            Rating = Math.Round(entry.Rating, 2),
            RatingCount = entry.RatingCount,
            // Without usage data yet, popularity is how widely a model is served and rated.
            Popularity = deployments.Count + (entry.RatingCount * entry.Rating),
            Created = spec.Created ?? (DateTimeOffset.TryParse(entry.Service.CreatedAt, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var c) ? c.ToUnixTimeSeconds() : 0),
            Version = entry.Current.Row.Version,
            State = entry.Current.Row.State,
            Sla = spec.Sla,
        };
    }
}
