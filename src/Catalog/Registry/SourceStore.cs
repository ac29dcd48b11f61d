using LlmMarketplace.BuildingBlocks.Storage;

namespace LlmMarketplace.Catalog.Registry;

/// <summary>How a source's last sync went, as stored in <c>catalog_sources</c>.</summary>
internal sealed class SourceRow
{
    public string Name { get; set; } = "";
    public long? LastSyncMs { get; set; }
    public string? LastStatus { get; set; }
    public string? LastResult { get; set; }
    public string? LastError { get; set; }
}

/// <summary>
/// The <c>catalog_sources</c> table: a lease per source taken by compare-and-set (so one replica at a time syncs it,
/// on SQLite and PostgreSQL alike; a replica that dies holding it frees it when the lease runs out) and the last outcome.
/// </summary>
internal sealed class SourceStore(Database database)
{
    private const string Columns = "name AS Name, last_sync_ms AS LastSyncMs, last_status AS LastStatus, last_result AS LastResult, last_error AS LastError";

    public async Task<bool> TryTakeLeaseAsync(string name, string owner, long nowMs, long untilMs, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition("INSERT INTO catalog_sources (name) VALUES (@name) ON CONFLICT (name) DO NOTHING", new { name }, cancellationToken: ct));
        var taken = await c.ExecuteAsync(new CommandDefinition(
            "UPDATE catalog_sources SET lease_owner = @owner, lease_until_ms = @untilMs WHERE name = @name AND (lease_until_ms IS NULL OR lease_until_ms < @nowMs)",
            new { name, owner, nowMs, untilMs }, cancellationToken: ct));
        return taken == 1;
    }

    public async Task ReleaseLeaseAsync(string name, string owner, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition(
            "UPDATE catalog_sources SET lease_owner = NULL, lease_until_ms = NULL WHERE name = @name AND lease_owner = @owner", new { name, owner }, cancellationToken: ct));
    }

    public async Task RecordAsync(string name, long atMs, string status, string? result, string? error, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition(
            "UPDATE catalog_sources SET last_sync_ms = @atMs, last_status = @status, last_result = @result, last_error = @error WHERE name = @name",
            new { name, atMs, status, result, error }, cancellationToken: ct));
    }

    public async Task<SourceRow?> FindAsync(string name, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return await c.QuerySingleOrDefaultAsync<SourceRow>(new CommandDefinition($"SELECT {Columns} FROM catalog_sources WHERE name = @name", new { name }, cancellationToken: ct));
    }

    public async Task<Dictionary<string, SourceRow>> AllAsync(CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return (await c.QueryAsync<SourceRow>(new CommandDefinition($"SELECT {Columns} FROM catalog_sources", cancellationToken: ct)))
            .ToDictionary(static r => r.Name, StringComparer.Ordinal);
    }
}
