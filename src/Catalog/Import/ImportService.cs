using LlmMarketplace.Catalog.Storage;
using LlmMarketplace.BuildingBlocks.Storage;

namespace LlmMarketplace.Catalog.Import;

/// <summary>What an import did.</summary>
public sealed record ImportSummary(string Format, int Read, int Created, int Updated, int Unchanged, int Skipped, IReadOnlyList<string> Problems);

/// <summary>
/// Upserts imported listings by slug in one transaction: a new slug becomes a service with a published 1.0.0
/// version; a known slug has its imported version's spec updated in place when it changed. Re-importing never
/// duplicates.
/// </summary>
public sealed class ImportService
{
    private readonly Database _database;
    private readonly TimeProvider _time;
    private readonly ILogger<ImportService> _logger;
    private readonly Action<string, int>? _imported;
    private readonly ICatalogAuditSink? _audit;

    public ImportService(Database database, TimeProvider time, ILogger<ImportService> logger)
        : this(database, time, logger, null, null)
    {
    }

    internal ImportService(Database database, TimeProvider time, ILogger<ImportService> logger, CatalogMetrics? metrics, ICatalogAuditSink? audit)
    {
        _database = database;
        _time = time;
        _logger = logger;
        _imported = metrics is null ? null : metrics.Imported;
        _audit = audit;
    }

    public async Task<ImportSummary> ImportAsync(Stream file, string actor, IProgress<(int Done, int Total)>? progress, CancellationToken ct)
    {
        // Buffer first: request bodies allow only asynchronous reads, and the parser reads synchronously.
        using var buffer = new MemoryStream();
        await file.CopyToAsync(buffer, ct);
        buffer.Position = 0;
        var (format, listings) = CatalogImporter.Read(buffer);
        return await UpsertAsync(format, "import:" + format, listings, actor, progress, ct);
    }

    /// <summary>
    /// Upserts <paramref name="listings"/> as coming from <paramref name="source"/> (a file format, the gateway's
    /// configuration). A listing published through the API is never overwritten: its slug is reported as a problem.
    /// An upsert that changed nothing by a non-person actor (<see cref="ConfiguredModelListings"/>) is not audited.
    /// </summary>
    internal async Task<ImportSummary> UpsertAsync(string format, string source, IReadOnlyList<ListingSpec> listings, string actor, IProgress<(int Done, int Total)>? progress, CancellationToken ct, bool auditUnchanged = true)
    {
        var now = _time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);
        int created = 0, updated = 0, unchanged = 0, skipped = 0;
        var problems = new List<string>();
        await using var c = await _database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var done = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var live = new List<(string ServiceId, string Slug, string Version)>();
        foreach (var listing in listings)
        {
            done++;
            if (listing.Slug is null || !seen.Add(listing.Slug))
            {
                skipped++;
                problems.Add($"{listing.Slug ?? "(no id)"}: duplicate or missing id in the file");
                continue;
            }
            var spec = CatalogJson.Serialize(listing);
            var service = await CatalogStore.FindServiceAsync(c, tx, listing.Slug, ct);
            if (service is null)
            {
                service = new ServiceRow
                {
                    Id = Guid.NewGuid().ToString("N"),
                    Slug = listing.Slug,
                    Name = listing.Name ?? listing.Slug,
                    Publisher = listing.Publisher ?? "unknown",
                    Source = source,
                    CreatedAt = now,
                    UpdatedAt = now,
                };
                await CatalogStore.InsertServiceAsync(c, tx, service, ct);
                var version = NewVersion(service.Id, listing.Version ?? "1.0.0", spec, actor, now);
                await CatalogStore.InsertVersionAsync(c, tx, version, ct);
                await CatalogStore.InsertTransitionAsync(c, tx, version.Id, null, VersionStates.Published, actor, "imported from " + format, now, ct);
                live.Add((service.Id, service.Slug, version.Version));
                created++;
            }
            else if (service.Source == PublishedThroughApi && source != PublishedThroughApi)
            {
                skipped++;
                problems.Add($"{listing.Slug}: a listing published by '{service.Publisher}' has this slug; left as it is");
            }
            else
            {
                var version = await CatalogStore.FindVersionAsync(c, tx, service.Id, listing.Version ?? "1.0.0", ct);
                if (version is null)
                {
                    version = NewVersion(service.Id, listing.Version ?? "1.0.0", spec, actor, now);
                    await CatalogStore.InsertVersionAsync(c, tx, version, ct);
                    await CatalogStore.InsertTransitionAsync(c, tx, version.Id, null, VersionStates.Published, actor, "imported from " + format, now, ct);
                    live.Add((service.Id, service.Slug, version.Version));
                    updated++;
                }
                else if (version.Spec != spec)
                {
                    await CatalogStore.UpdateVersionSpecAsync(c, tx, version.Id, spec, now, ct);
                    service.Name = listing.Name ?? service.Name;
                    service.UpdatedAt = now;
                    await CatalogStore.UpdateServiceAsync(c, tx, service, ct);
                    updated++;
                }
                else
                {
                    unchanged++;
                }
            }
            if (done % 50 == 0 || done == listings.Count) progress?.Report((done, listings.Count));
        }
        await tx.CommitAsync(ct);
        Log.Imported(_logger, format, created, updated, unchanged);
        if (_audit is not null && (auditUnchanged || created + updated > 0))
        {
            // The import itself (by the API or the CLI), then each version it made live: the same fact as an approval's.
            var at = _time.GetUtcNow();
            await _audit.RecordAsync(new CatalogAuditEvent("catalog.imported", null, null, null, actor,
                $"{format}: {created} created, {updated} updated, {unchanged} unchanged, {skipped} skipped", at), ct);
            foreach (var (serviceId, slug, version) in live)
            {
                await _audit.RecordAsync(new CatalogAuditEvent("catalog.version.published", serviceId, slug, version, actor, "imported from " + format, at), ct);
            }
        }
        _imported?.Invoke(format, created + updated);
        return new ImportSummary(format, listings.Count, created, updated, unchanged, skipped, problems);
    }

    /// <summary>The source of listings created by <c>POST /api/v1/services</c>.</summary>
    internal const string PublishedThroughApi = "api";

    private static VersionRow NewVersion(string serviceId, string version, string spec, string actor, string now) => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        ServiceId = serviceId,
        Version = version,
        State = VersionStates.Published,
        Spec = spec,
        ApprovalsRequired = 0,
        CreatedBy = actor,
        CreatedAt = now,
        UpdatedAt = now,
    };
}
