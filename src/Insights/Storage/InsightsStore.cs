using System.Data.Common;
using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Insights.Analytics;

namespace LlmMarketplace.Insights.Storage;

/// <summary>The Insights tables (rollups, cursors), through Dapper and SQL both SQLite and PostgreSQL accept.</summary>
internal sealed class InsightsStore(Database database) : ModuleStore(database)
{
    public async Task<long> GetCursorAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT position FROM insights_cursors WHERE name = @name", new { name }, cancellationToken: cancellationToken)) ?? 0;
    }

    /// <summary>
    /// Moves a cursor from <paramref name="expected"/> to <paramref name="next"/> and runs <paramref name="apply"/> in the
    /// same transaction; returns false (and applies nothing) when another replica moved the cursor first.
    /// </summary>
    public async Task<bool> AdvanceAsync(string name, long expected, long next, long nowMs, Func<DbConnection, DbTransaction, Task> apply, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO insights_cursors (name, position, updated_ms) VALUES (@name, 0, @nowMs) ON CONFLICT (name) DO NOTHING",
            new { name, nowMs }, cancellationToken: cancellationToken));
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // The compare-and-set comes first: it takes the write lock, so a competing replica waits here and then finds the cursor moved.
        var moved = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE insights_cursors SET position = @next, updated_ms = @nowMs WHERE name = @name AND position = @expected",
            new { name, next, expected, nowMs }, transaction, cancellationToken: cancellationToken));
        if (moved != 1)
        {
            await transaction.RollbackAsync(cancellationToken);
            return false;
        }
        await apply(connection, transaction);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Merges cells into their stored rows (inside the caller's transaction).</summary>
    public static async Task MergeRollupsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyDictionary<RollupKey, RollupCell> cells, CancellationToken cancellationToken)
    {
        foreach (var (key, cell) in cells)
        {
            await MergeCellAsync(connection, transaction, RollupsTable,
            [
                key.Granularity, key.BucketMs, key.Dimensions.Team, key.Dimensions.App, key.Dimensions.Key, key.Dimensions.Model,
                key.Dimensions.Listing, key.Dimensions.Deployment, key.Dimensions.Provider,
            ], cell, cancellationToken);
        }
    }

    /// <summary>Merges per-bucket totals into their stored rows (inside the caller's transaction).</summary>
    public static async Task MergeTotalsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyDictionary<(string Granularity, long BucketMs), RollupCell> totals, CancellationToken cancellationToken)
    {
        foreach (var ((granularity, bucketMs), cell) in totals)
        {
            await MergeCellAsync(connection, transaction, TotalsTable, [granularity, bucketMs], cell, cancellationToken);
        }
    }

    /// <summary>Merges per-dimension sums into their stored rows (inside the caller's transaction).</summary>
    public static async Task MergeDimensionsAsync(DbConnection connection, DbTransaction transaction,
        IReadOnlyDictionary<(string Granularity, long BucketMs, string Dimension, string Value), RollupCell> cells, CancellationToken cancellationToken)
    {
        foreach (var ((granularity, bucketMs, dimension, value), cell) in cells)
        {
            await MergeCellAsync(connection, transaction, DimensionsTable, [granularity, bucketMs, dimension, value], cell, cancellationToken);
        }
    }

    /// <summary>The measure columns every rollup table has (<see cref="MergeCellAsync"/> binds each by its name).</summary>
    private static readonly string[] MeasureColumns =
    [
        "requests", "prompt_tokens", "completion_tokens", "cached_tokens", "cost_usd",
        "errors_client", "errors_rate_limited", "errors_server", "cache_hits", "latency_sketch", "ttft_sketch",
    ];

    /// <summary>A rollup table, its key columns and the statements that read, insert and update one of its rows (made once).</summary>
    private sealed class RollupTable
    {
        public RollupTable(string name, params string[] keyColumns)
        {
            KeyColumns = keyColumns;
            var match = string.Join(" AND ", keyColumns.Select(static c => $"{c} = @{c}"));
            Select = $"SELECT * FROM {name} WHERE {match}";
            var columns = keyColumns.Concat(MeasureColumns).ToArray();
            Insert = $"INSERT INTO {name} ({string.Join(", ", columns)}) VALUES ({string.Join(", ", columns.Select(static c => "@" + c))})";
            Update = $"UPDATE {name} SET {string.Join(", ", MeasureColumns.Select(static c => $"{c} = @{c}"))} WHERE {match}";
        }

        public string[] KeyColumns { get; }
        public string Select { get; }
        public string Insert { get; }
        public string Update { get; }
    }

    private static readonly RollupTable RollupsTable = new("insights_rollups",
        "granularity", "bucket_ms", "team_id", "app_id", "key_id", "model", "listing", "deployment", "provider");

    private static readonly RollupTable TotalsTable = new("insights_rollup_totals", "granularity", "bucket_ms");

    private static readonly RollupTable DimensionsTable = new("insights_rollup_dimensions", "granularity", "bucket_ms", "dimension", "value");

    /// <summary>
    /// Adds <paramref name="cell"/> to the row of <paramref name="table"/> that <paramref name="key"/> names (the values of its
    /// key columns, in order), inserting the row when there is none; each parameter is named after its column.
    /// </summary>
    private static async Task MergeCellAsync(DbConnection connection, DbTransaction transaction, RollupTable table,
        object[] key, RollupCell cell, CancellationToken cancellationToken)
    {
        var p = new DynamicParameters();
        for (var i = 0; i < key.Length; i++) p.Add(table.KeyColumns[i], key[i]);
        var existing = await connection.QuerySingleOrDefaultAsync<RollupRow>(new CommandDefinition(
            table.Select, p, transaction, cancellationToken: cancellationToken));
        var merged = cell;
        if (existing is not null)
        {
            merged = existing.ToCell();
            merged.Merge(cell);
        }
        p.Add("requests", merged.Requests);
        p.Add("prompt_tokens", merged.PromptTokens);
        p.Add("completion_tokens", merged.CompletionTokens);
        p.Add("cached_tokens", merged.CachedTokens);
        p.Add("cost_usd", merged.CostUsd);
        p.Add("errors_client", merged.ErrorsClient);
        p.Add("errors_rate_limited", merged.ErrorsRateLimited);
        p.Add("errors_server", merged.ErrorsServer);
        p.Add("cache_hits", merged.CacheHits);
        p.Add("latency_sketch", merged.Latency.ToBytes());
        p.Add("ttft_sketch", merged.Ttft.ToBytes());
        await connection.ExecuteAsync(new CommandDefinition(existing is null ? table.Insert : table.Update, p, transaction, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Appends events to the event log inside the caller's transaction: on PostgreSQL one INSERT of the four columns as
    /// arrays (one round trip); on SQLite, which runs in the process, one single-event INSERT prepared once and executed
    /// for each event (binding a parameter by name searches a statement's names one by one, so a multi-event statement
    /// would cost time quadratic in its events). Positions follow the order of <paramref name="events"/>.
    /// </summary>
    public async Task InsertEventsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<StoredEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0) return;
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        if (Database.Provider == StorageProvider.Postgres)
        {
            // WITH ORDINALITY keeps the list's order in the identity the rows get.
            command.CommandText = """
                INSERT INTO insights_events (event_id, type, payload, created_ms)
                SELECT id, type, payload, created_ms
                FROM unnest(@id::text[], @type::text[], @payload::text[], @created_ms::bigint[]) WITH ORDINALITY AS e(id, type, payload, created_ms, n)
                ORDER BY n
                """;
            Add(command, "id", events.Select(static e => e.Id).ToArray());
            Add(command, "type", events.Select(static e => e.Type).ToArray());
            Add(command, "payload", events.Select(static e => e.Payload).ToArray());
            Add(command, "created_ms", events.Select(static e => e.CreatedMs).ToArray());
            await command.ExecuteNonQueryAsync(cancellationToken);
            return;
        }
        command.CommandText = "INSERT INTO insights_events (event_id, type, payload, created_ms) VALUES (@id, @type, @payload, @created_ms)";
        var id = Add(command, "@id", "");
        var type = Add(command, "@type", "");
        var payload = Add(command, "@payload", "");
        var created = Add(command, "@created_ms", 0L);
        command.Prepare();
        foreach (var e in events)
        {
            id.Value = e.Id;
            type.Value = e.Type;
            payload.Value = e.Payload;
            created.Value = e.CreatedMs;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        static DbParameter Add(DbCommand command, string name, object value)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
            return parameter;
        }
    }

    /// <summary>Deletes rollup rows of a granularity older than a time (retention).</summary>
    public async Task<int> PruneAsync(string granularity, long beforeMs, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var pruned = await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM insights_rollups WHERE granularity = @granularity AND bucket_ms < @beforeMs", new { granularity, beforeMs }, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM insights_rollup_totals WHERE granularity = @granularity AND bucket_ms < @beforeMs", new { granularity, beforeMs }, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM insights_rollup_dimensions WHERE granularity = @granularity AND bucket_ms < @beforeMs", new { granularity, beforeMs }, cancellationToken: cancellationToken));
        return pruned;
    }
}

/// <summary>An event as the log stores it: its id, type, JSON envelope and creation time.</summary>
internal readonly record struct StoredEvent(string Id, string Type, string Payload, long CreatedMs);

/// <summary>One stored rollup row.</summary>
internal sealed class RollupRow : RollupSums
{
    public string Granularity { get; set; } = "";
    public long BucketMs { get; set; }
    public string TeamId { get; set; } = "";
    public string AppId { get; set; } = "";
    public string KeyId { get; set; } = "";
    public string Model { get; set; } = "";
    public string Listing { get; set; } = "";
    public string Deployment { get; set; } = "";
    public string Provider { get; set; } = "";
    public byte[] LatencySketch { get; set; } = [];
    public byte[] TtftSketch { get; set; } = [];

    public RollupCell ToCell()
    {
        var cell = new RollupCell { Latency = DDSketch.FromBytes(LatencySketch), Ttft = DDSketch.FromBytes(TtftSketch) };
        cell.AddSums(this);
        return cell;
    }
}
