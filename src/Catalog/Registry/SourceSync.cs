using System.Data.Common;
using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Catalog.Import;
using LlmMarketplace.Catalog.Storage;

namespace LlmMarketplace.Catalog.Registry;

/// <summary>What one sync of a source did (or, for a dry run, would do): the model ids in each outcome.</summary>
public sealed record SyncResult(string Source, string Format, bool DryRun, DateTimeOffset At, int Read,
    IReadOnlyList<string> Created, IReadOnlyList<string> Updated, IReadOnlyList<string> Deprecated, IReadOnlyList<string> Unchanged,
    IReadOnlyDictionary<string, string> Versions, IReadOnlyList<string> Problems);

/// <summary>The source could not be read (unreachable, an error answer, not a catalog of the configured format).</summary>
public sealed class SourceUnreadableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Keeps the catalog in step with a model registry. A model new to the source becomes a published 1.0.0; a changed
/// price, context or deployment makes a new published version (the old one stays callable as <c>slug@version</c>);
/// other changes (name, description, tags) update the current version in place; a model the source dropped has its
/// published versions deprecated with a sunset, never deleted. Only listings this source created are touched. One
/// transaction per sync; a dry run rolls it back. One replica at a time per source (a lease in <c>catalog_sources</c>).
/// </summary>
internal sealed class SourceSync(Database database, SourceStore sources, CatalogState state, ICatalogAuditSink audit, TimeProvider time, ILogger<SourceSync> logger)
{
    /// <summary>How long a sync may hold a source before another replica may take it over.</summary>
    private static readonly TimeSpan LeaseLength = TimeSpan.FromMinutes(15);

    private const long MaxSourceBytes = 256L * 1024 * 1024;

    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        ConnectTimeout = TimeSpan.FromSeconds(15),
        AutomaticDecompression = System.Net.DecompressionMethods.All,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
    })
    {
        Timeout = TimeSpan.FromMinutes(2),
        MaxResponseContentBufferSize = MaxSourceBytes,
    };

    private readonly string _replica = Guid.NewGuid().ToString("N")[..12];

    /// <summary>Syncs now; null when another sync of this source holds its lease.</summary>
    public async Task<SyncResult?> SyncAsync(RegistrySource source, bool dryRun, string actor, CancellationToken ct)
    {
        var owner = $"{_replica}:{Guid.NewGuid():N}";
        var now = time.GetUtcNow();
        if (!await sources.TryTakeLeaseAsync(source.Name, owner, now.ToUnixTimeMilliseconds(), (now + LeaseLength).ToUnixTimeMilliseconds(), ct)) return null;
        try
        {
            return await SyncHoldingLeaseAsync(source, dryRun, actor, ct);
        }
        finally
        {
            await sources.ReleaseLeaseAsync(source.Name, owner, CancellationToken.None);
        }
    }

    /// <summary>Syncs if the source is due (never synced, or its interval passed since the last sync on any replica); false when it was not due or busy.</summary>
    public async Task<bool> SyncIfDueAsync(RegistrySource source, CancellationToken ct)
    {
        if (source.IntervalMinutes <= 0 || !await IsDueAsync(source, ct)) return false;
        var owner = $"{_replica}:{Guid.NewGuid():N}";
        var now = time.GetUtcNow();
        if (!await sources.TryTakeLeaseAsync(source.Name, owner, now.ToUnixTimeMilliseconds(), (now + LeaseLength).ToUnixTimeMilliseconds(), ct)) return false;
        try
        {
            // Another replica may have synced between the check and the lease.
            if (!await IsDueAsync(source, ct)) return false;
            await SyncHoldingLeaseAsync(source, false, "system:registry-sync", ct);
            return true;
        }
        finally
        {
            await sources.ReleaseLeaseAsync(source.Name, owner, CancellationToken.None);
        }
    }

    private async Task<bool> IsDueAsync(RegistrySource source, CancellationToken ct)
    {
        var row = await sources.FindAsync(source.Name, ct);
        return row?.LastSyncMs is not { } last || time.GetUtcNow().ToUnixTimeMilliseconds() - last >= (long)TimeSpan.FromMinutes(source.IntervalMinutes).TotalMilliseconds;
    }

    private async Task<SyncResult> SyncHoldingLeaseAsync(RegistrySource source, bool dryRun, string actor, CancellationToken ct)
    {
        var at = time.GetUtcNow();
        SyncResult result;
        try
        {
            var listings = await ReadAsync(source, ct);
            result = await ApplyAsync(source, listings, dryRun, actor, at, ct);
        }
        catch (SourceUnreadableException ex) when (!dryRun)
        {
            Log.SourceSyncFailed(logger, source.Name, ex.Message);
            await sources.RecordAsync(source.Name, at.ToUnixTimeMilliseconds(), "failed", null, ex.Message, CancellationToken.None);
            await audit.RecordAsync(new CatalogAuditEvent("catalog.source.sync_failed", source.ListingSource, null, null, actor, ex.Message, at), CancellationToken.None);
            throw;
        }
        if (dryRun) return result;

        var summary = $"{result.Created.Count} created, {result.Updated.Count} updated, {result.Deprecated.Count} deprecated, {result.Unchanged.Count} unchanged";
        Log.SourceSynced(logger, source.Name, result.Created.Count, result.Updated.Count, result.Deprecated.Count, result.Unchanged.Count);
        await sources.RecordAsync(source.Name, at.ToUnixTimeMilliseconds(), "ok",
            CatalogJson.Serialize(new { created = result.Created.Count, updated = result.Updated.Count, deprecated = result.Deprecated.Count, unchanged = result.Unchanged.Count, problems = result.Problems.Count }),
            null, CancellationToken.None);
        await audit.RecordAsync(new CatalogAuditEvent("catalog.source.synced", source.ListingSource, null, null, actor, $"{source.Name} ({source.Format}): {summary}", at), CancellationToken.None);
        return result;
    }

    /// <summary>The source's models as listings, with the source's deployments when it names them.</summary>
    private async Task<IReadOnlyList<ListingSpec>> ReadAsync(RegistrySource source, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        try
        {
            if (Uri.TryCreate(source.Url, UriKind.Absolute, out var url) && url.Scheme is "http" or "https")
            {
                using var response = await _http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, ct);
                if (!response.IsSuccessStatusCode) throw new SourceUnreadableException($"The source '{source.Name}' answered {(int)response.StatusCode} {response.ReasonPhrase}.");
                await using var body = await response.Content.ReadAsStreamAsync(ct);
                await body.CopyToAsync(buffer, ct);
            }
            else
            {
                var path = Uri.TryCreate(source.Url, UriKind.Absolute, out var file) && file.IsFile ? file.LocalPath : source.Url;
                await using var stream = File.OpenRead(path);
                await stream.CopyToAsync(buffer, ct);
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or UnauthorizedAccessException || ex is TaskCanceledException && !ct.IsCancellationRequested)
        {
            throw new SourceUnreadableException($"Reading the source '{source.Name}' failed: {ex.Message}", ex);
        }
        buffer.Position = 0;
        string format;
        IReadOnlyList<ListingSpec> listings;
        try
        {
            (format, listings) = CatalogImporter.Read(buffer);
        }
        catch (InvalidDataException ex)
        {
            throw new SourceUnreadableException($"The source '{source.Name}' is not a {source.Format} catalog: {ex.Message}", ex);
        }
        if (format != source.Format) throw new SourceUnreadableException($"The source '{source.Name}' is configured as {source.Format} but serves a {format} catalog.");
        if (source.Deployments.Count == 0) return listings;
        return [.. listings.Select(l => l with
        {
            Deployments = [.. source.Deployments.Select(d => new DeploymentSpec
            {
                Provider = d.Provider,
                Type = d.Type ?? "openai",
                UpstreamModel = l.Deployments?.FirstOrDefault()?.UpstreamModel ?? l.Slug,
                BaseUrl = d.BaseUrl,
                ApiKey = d.ApiKey,
                Region = d.Region,
                Pricing = l.Pricing,
            })],
        })];
    }

    private async Task<SyncResult> ApplyAsync(RegistrySource source, IReadOnlyList<ListingSpec> listings, bool dryRun, string actor, DateTimeOffset at, CancellationToken ct)
    {
        var now = at.ToString("O", CultureInfo.InvariantCulture);
        var reason = $"synced from {source.Name}";
        List<string> created = [], updated = [], deprecated = [], unchanged = [], problems = [];
        var versions = new Dictionary<string, string>(StringComparer.Ordinal);
        var live = new List<(string ServiceId, string Slug, string Version)>();
        var retired = new List<(string ServiceId, string Slug, string Version)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);

        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        foreach (var listing in listings)
        {
            if (listing.Slug is not { } slug || !seen.Add(slug))
            {
                problems.Add($"{listing.Slug ?? "(no id)"}: duplicate or missing id in the source");
                continue;
            }
            var service = await CatalogStore.FindServiceAsync(c, tx, slug, ct);
            if (service is null)
            {
                service = new ServiceRow
                {
                    Id = Guid.NewGuid().ToString("N"), Slug = slug, Name = listing.Name ?? slug, Publisher = listing.Publisher ?? "unknown",
                    Source = source.ListingSource, CreatedAt = now, UpdatedAt = now,
                };
                await CatalogStore.InsertServiceAsync(c, tx, service, ct);
                await PublishAsync(c, tx, service, listing, "1.0.0", actor, reason, now, ct);
                created.Add(slug);
                versions[slug] = "1.0.0";
                live.Add((service.Id, slug, "1.0.0"));
                continue;
            }
            if (service.Source != source.ListingSource)
            {
                problems.Add($"{slug}: listed already by '{service.Source}'; left as it is");
                continue;
            }
            var all = await VersionsAsync(c, tx, service.Id, ct);
            var current = Current(all);
            if (current is null)
            {
                problems.Add($"{slug}: every version was retired by an administrator; left as it is");
                continue;
            }
            var spec = CatalogJson.Serialize(listing with { Version = current.Row.Version });
            if (current.Row.State == VersionStates.Published && current.Row.Spec == spec)
            {
                unchanged.Add(slug);
                continue;
            }
            if (current.Row.State == VersionStates.Published && SameTerms(current.Spec, listing))
            {
                // Wording only (name, description, tags): the version callers pinned still means the same terms.
                await CatalogStore.UpdateVersionSpecAsync(c, tx, current.Row.Id, spec, now, ct);
                service.Name = listing.Name ?? service.Name;
                service.UpdatedAt = now;
                await CatalogStore.UpdateServiceAsync(c, tx, service, ct);
                updated.Add(slug);
                versions[slug] = current.Row.Version;
                continue;
            }
            // New terms (or back after being dropped): a new version, so callers pinned to the old one keep its terms.
            var newest = all.Select(static v => SemVer.TryParse(v.Version, out var s) ? s : null).OfType<SemVer>().Max()!;
            var next = new SemVer(newest.Major, newest.Minor + 1, 0, null).ToString();
            await PublishAsync(c, tx, service, listing, next, actor, reason, now, ct);
            service.Name = listing.Name ?? service.Name;
            service.UpdatedAt = now;
            await CatalogStore.UpdateServiceAsync(c, tx, service, ct);
            updated.Add(slug);
            versions[slug] = next;
            live.Add((service.Id, slug, next));
        }

        // Models the source no longer lists: deprecated with a sunset (still served until an administrator retires them).
        var sunset = (at + TimeSpan.FromDays(source.SunsetDays)).ToString("O", CultureInfo.InvariantCulture);
        var mine = (await c.QueryAsync<ServiceRow>(new CommandDefinition(
            $"SELECT {CatalogStore.ServiceColumns} FROM catalog_services WHERE source = @source ORDER BY slug", new { source = source.ListingSource }, tx, cancellationToken: ct))).AsList();
        foreach (var service in mine.Where(s => !seen.Contains(s.Slug)))
        {
            var dropped = false;
            foreach (var version in (await VersionsAsync(c, tx, service.Id, ct)).Where(static v => v.State == VersionStates.Published))
            {
                if (await CatalogStore.TransitionAsync(c, tx, version.Id, VersionStates.Published, VersionStates.Deprecated, actor,
                    $"no longer listed by the source {source.Name}", now, null, sunset, null, ct))
                {
                    retired.Add((service.Id, service.Slug, version.Version));
                    dropped = true;
                }
            }
            if (dropped) deprecated.Add(service.Slug);
        }

        if (dryRun)
        {
            await tx.RollbackAsync(ct);
        }
        else
        {
            await tx.CommitAsync(ct);
            // Each version made live once: the same fact an approval or an import records (it becomes listing.published).
            foreach (var (serviceId, slug, version) in live)
            {
                await audit.RecordAsync(new CatalogAuditEvent("catalog.version.published", serviceId, slug, version, actor, reason, at), CancellationToken.None);
            }
            foreach (var (serviceId, slug, version) in retired)
            {
                await audit.RecordAsync(new CatalogAuditEvent("catalog.version.deprecated", serviceId, slug, version, actor, $"no longer listed by the source {source.Name}", at), CancellationToken.None);
            }
            if (live.Count + retired.Count + updated.Count > 0) await state.ReloadAsync(ct);
        }
        return new SyncResult(source.Name, source.Format, dryRun, at, listings.Count, created, updated, deprecated, unchanged, versions, problems);
    }

    /// <summary>Whether the terms a caller relies on (prices, context, output limit, deployments) are the same.</summary>
    private static bool SameTerms(ListingSpec a, ListingSpec b) =>
        CatalogJson.Serialize(new { a.Pricing, a.ContextLength, a.MaxOutputTokens, a.Deployments, a.Kind })
        == CatalogJson.Serialize(new { b.Pricing, b.ContextLength, b.MaxOutputTokens, b.Deployments, b.Kind });

    /// <summary>The newest published version, else the newest deprecated one; null when nothing is routable.</summary>
    private static RoutableVersion? Current(List<VersionRow> versions)
    {
        var routable = versions.Where(static v => VersionStates.IsRoutable(v.State))
            .Select(static v => SemVer.TryParse(v.Version, out var s) ? new RoutableVersion(v, CatalogJson.Deserialize<ListingSpec>(v.Spec), s) : null)
            .OfType<RoutableVersion>().OrderByDescending(static v => v.Version).ToList();
        return routable.FirstOrDefault(static v => v.Row.State == VersionStates.Published) ?? routable.FirstOrDefault();
    }

    private static async Task<List<VersionRow>> VersionsAsync(DbConnection c, DbTransaction tx, string serviceId, CancellationToken ct) =>
        (await c.QueryAsync<VersionRow>(new CommandDefinition(
            $"SELECT {CatalogStore.VersionColumns} FROM catalog_versions WHERE service_id = @serviceId", new { serviceId }, tx, cancellationToken: ct))).AsList();

    private static async Task PublishAsync(DbConnection c, DbTransaction tx, ServiceRow service, ListingSpec listing, string version, string actor, string reason, string now, CancellationToken ct)
    {
        var row = new VersionRow
        {
            Id = Guid.NewGuid().ToString("N"), ServiceId = service.Id, Version = version, State = VersionStates.Published,
            Spec = CatalogJson.Serialize(listing with { Version = version }), ApprovalsRequired = 0, CreatedBy = actor, CreatedAt = now, UpdatedAt = now,
        };
        await CatalogStore.InsertVersionAsync(c, tx, row, ct);
        await CatalogStore.InsertTransitionAsync(c, tx, row.Id, null, VersionStates.Published, actor, reason, now, ct);
    }
}
