using System.Data.Common;
using Dapper;
using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Insights.Analytics;

namespace LlmMarketplace.Insights.Storage;

/// <summary>The Insights tables (rollups, cursors), through Dapper and SQL both SQLite and PostgreSQL accept.</summary>
internal sealed class InsightsStore(Database database)
{
    static InsightsStore() => DefaultTypeMap.MatchNamesWithUnderscores = true;

    public Database Database => database;

    public Task<DbConnection> OpenAsync(CancellationToken cancellationToken = default) => database.OpenAsync(cancellationToken);

    /// <summary>A connection for a write (see <see cref="Database.OpenForWriteAsync"/>).</summary>
    public Task<DbConnection> OpenForWriteAsync(CancellationToken cancellationToken = default) => database.OpenForWriteAsync(cancellationToken);

    public async Task<long> GetCursorAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT position FROM insights_cursors WHERE name = @name", new { name }, cancellationToken: cancellationToken)) ?? 0;
    }

    /// <summary>
    /// Moves a cursor from <paramref name="expected"/> to <paramref name="next"/> and runs <paramref name="apply"/> in the
    /// same transaction; returns false (and applies nothing) when another replica moved the cursor first.
    /// </summary>
    public async Task<bool> AdvanceAsync(string name, long expected, long next, long nowMs, Func<DbConnection, DbTransaction, Task> apply, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenForWriteAsync(cancellationToken);
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

    private const string KeyWhere = """
        granularity = @Granularity AND bucket_ms = @BucketMs AND team_id = @Team AND app_id = @App AND key_id = @Key
        AND model = @Model AND listing = @Listing AND deployment = @Deployment AND provider = @Provider
        """;

    /// <summary>Merges cells into their stored rows (inside the caller's transaction).</summary>
    public static async Task MergeRollupsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyDictionary<RollupKey, RollupCell> cells, CancellationToken cancellationToken)
    {
        foreach (var (key, cell) in cells)
        {
            var p = new DynamicParameters();
            p.Add("Granularity", key.Granularity);
            p.Add("BucketMs", key.BucketMs);
            p.Add("Team", key.Dimensions.Team);
            p.Add("App", key.Dimensions.App);
            p.Add("Key", key.Dimensions.Key);
            p.Add("Model", key.Dimensions.Model);
            p.Add("Listing", key.Dimensions.Listing);
            p.Add("Deployment", key.Dimensions.Deployment);
            p.Add("Provider", key.Dimensions.Provider);
            var existing = await connection.QuerySingleOrDefaultAsync<RollupRow>(new CommandDefinition(
                $"SELECT * FROM insights_rollups WHERE {KeyWhere}", p, transaction, cancellationToken: cancellationToken));
            var merged = cell;
            if (existing is not null)
            {
                merged = existing.ToCell();
                merged.Merge(cell);
            }
            p.Add("Requests", merged.Requests);
            p.Add("PromptTokens", merged.PromptTokens);
            p.Add("CompletionTokens", merged.CompletionTokens);
            p.Add("CachedTokens", merged.CachedTokens);
            p.Add("CostUsd", merged.CostUsd);
            p.Add("ErrorsClient", merged.ErrorsClient);
            p.Add("ErrorsRateLimited", merged.ErrorsRateLimited);
            p.Add("ErrorsServer", merged.ErrorsServer);
            p.Add("CacheHits", merged.CacheHits);
            p.Add("LatencySketch", merged.Latency.ToBytes());
            p.Add("TtftSketch", merged.Ttft.ToBytes());
            var sql = existing is null
                ? """
                  INSERT INTO insights_rollups (granularity, bucket_ms, team_id, app_id, key_id, model, listing, deployment, provider,
                      requests, prompt_tokens, completion_tokens, cached_tokens, cost_usd, errors_client, errors_rate_limited, errors_server,
                      cache_hits, latency_sketch, ttft_sketch)
                  VALUES (@Granularity, @BucketMs, @Team, @App, @Key, @Model, @Listing, @Deployment, @Provider,
                      @Requests, @PromptTokens, @CompletionTokens, @CachedTokens, @CostUsd, @ErrorsClient, @ErrorsRateLimited, @ErrorsServer,
                      @CacheHits, @LatencySketch, @TtftSketch)
                  """
                : $"""
                  UPDATE insights_rollups SET requests = @Requests, prompt_tokens = @PromptTokens, completion_tokens = @CompletionTokens,
                      cached_tokens = @CachedTokens, cost_usd = @CostUsd, errors_client = @ErrorsClient, errors_rate_limited = @ErrorsRateLimited,
                      errors_server = @ErrorsServer, cache_hits = @CacheHits, latency_sketch = @LatencySketch, ttft_sketch = @TtftSketch
                  WHERE {KeyWhere}
                  """;
            await connection.ExecuteAsync(new CommandDefinition(sql, p, transaction, cancellationToken: cancellationToken));
        }
    }

    /// <summary>Merges per-bucket totals into their stored rows (inside the caller's transaction).</summary>
    public static async Task MergeTotalsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyDictionary<(string Granularity, long BucketMs), RollupCell> totals, CancellationToken cancellationToken)
    {
        foreach (var ((granularity, bucketMs), cell) in totals)
        {
            var existing = await connection.QuerySingleOrDefaultAsync<RollupRow>(new CommandDefinition(
                "SELECT * FROM insights_rollup_totals WHERE granularity = @granularity AND bucket_ms = @bucketMs", new { granularity, bucketMs }, transaction, cancellationToken: cancellationToken));
            var merged = cell;
            if (existing is not null)
            {
                merged = existing.ToCell();
                merged.Merge(cell);
            }
            var p = new
            {
                Granularity = granularity,
                BucketMs = bucketMs,
                merged.Requests,
                merged.PromptTokens,
                merged.CompletionTokens,
                merged.CachedTokens,
                merged.CostUsd,
                merged.ErrorsClient,
                merged.ErrorsRateLimited,
                merged.ErrorsServer,
                merged.CacheHits,
                LatencySketch = merged.Latency.ToBytes(),
                TtftSketch = merged.Ttft.ToBytes(),
            };
            var sql = existing is null
                ? """
                  INSERT INTO insights_rollup_totals (granularity, bucket_ms, requests, prompt_tokens, completion_tokens, cached_tokens, cost_usd,
                      errors_client, errors_rate_limited, errors_server, cache_hits, latency_sketch, ttft_sketch)
                  VALUES (@Granularity, @BucketMs, @Requests, @PromptTokens, @CompletionTokens, @CachedTokens, @CostUsd,
                      @ErrorsClient, @ErrorsRateLimited, @ErrorsServer, @CacheHits, @LatencySketch, @TtftSketch)
                  """
                : """
                  UPDATE insights_rollup_totals SET requests = @Requests, prompt_tokens = @PromptTokens, completion_tokens = @CompletionTokens,
                      cached_tokens = @CachedTokens, cost_usd = @CostUsd, errors_client = @ErrorsClient, errors_rate_limited = @ErrorsRateLimited,
                      errors_server = @ErrorsServer, cache_hits = @CacheHits, latency_sketch = @LatencySketch, ttft_sketch = @TtftSketch
                  WHERE granularity = @Granularity AND bucket_ms = @BucketMs
                  """;
            await connection.ExecuteAsync(new CommandDefinition(sql, p, transaction, cancellationToken: cancellationToken));
        }
    }

    /// <summary>Merges per-dimension sums into their stored rows (inside the caller's transaction).</summary>
    public static async Task MergeDimensionsAsync(DbConnection connection, DbTransaction transaction,
        IReadOnlyDictionary<(string Granularity, long BucketMs, string Dimension, string Value), RollupCell> cells, CancellationToken cancellationToken)
    {
        foreach (var ((granularity, bucketMs, dimension, value), cell) in cells)
        {
            var existing = await connection.QuerySingleOrDefaultAsync<RollupRow>(new CommandDefinition(
                "SELECT * FROM insights_rollup_dimensions WHERE dimension = @dimension AND granularity = @granularity AND bucket_ms = @bucketMs AND value = @value",
                new { granularity, bucketMs, dimension, value }, transaction, cancellationToken: cancellationToken));
            var merged = cell;
            if (existing is not null)
            {
                merged = existing.ToCell();
                merged.Merge(cell);
            }
            var p = new
            {
                Granularity = granularity,
                BucketMs = bucketMs,
                Dimension = dimension,
                Value = value,
                merged.Requests,
                merged.PromptTokens,
                merged.CompletionTokens,
                merged.CachedTokens,
                merged.CostUsd,
                merged.ErrorsClient,
                merged.ErrorsRateLimited,
                merged.ErrorsServer,
                merged.CacheHits,
                LatencySketch = merged.Latency.ToBytes(),
                TtftSketch = merged.Ttft.ToBytes(),
            };
            var sql = existing is null
                ? """
                  INSERT INTO insights_rollup_dimensions (granularity, bucket_ms, dimension, value, requests, prompt_tokens, completion_tokens, cached_tokens, cost_usd,
                      errors_client, errors_rate_limited, errors_server, cache_hits, latency_sketch, ttft_sketch)
                  VALUES (@Granularity, @BucketMs, @Dimension, @Value, @Requests, @PromptTokens, @CompletionTokens, @CachedTokens, @CostUsd,
                      @ErrorsClient, @ErrorsRateLimited, @ErrorsServer, @CacheHits, @LatencySketch, @TtftSketch)
                  """
                : """
                  UPDATE insights_rollup_dimensions SET requests = @Requests, prompt_tokens = @PromptTokens, completion_tokens = @CompletionTokens,
                      cached_tokens = @CachedTokens, cost_usd = @CostUsd, errors_client = @ErrorsClient, errors_rate_limited = @ErrorsRateLimited,
                      errors_server = @ErrorsServer, cache_hits = @CacheHits, latency_sketch = @LatencySketch, ttft_sketch = @TtftSketch
                  WHERE dimension = @Dimension AND granularity = @Granularity AND bucket_ms = @BucketMs AND value = @Value
                  """;
            await connection.ExecuteAsync(new CommandDefinition(sql, p, transaction, cancellationToken: cancellationToken));
        }
    }

    /// <summary>Deletes rollup rows of a granularity older than a time (retention).</summary>
    public async Task<int> PruneAsync(string granularity, long beforeMs, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenForWriteAsync(cancellationToken);
        var pruned = await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM insights_rollups WHERE granularity = @granularity AND bucket_ms < @beforeMs", new { granularity, beforeMs }, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM insights_rollup_totals WHERE granularity = @granularity AND bucket_ms < @beforeMs", new { granularity, beforeMs }, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM insights_rollup_dimensions WHERE granularity = @granularity AND bucket_ms < @beforeMs", new { granularity, beforeMs }, cancellationToken: cancellationToken));
        return pruned;
    }
}

/// <summary>One stored rollup row.</summary>
internal sealed class RollupRow
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
    public long Requests { get; set; }
    public long PromptTokens { get; set; }
    public long CompletionTokens { get; set; }
    public long CachedTokens { get; set; }
    public decimal CostUsd { get; set; }
    public long ErrorsClient { get; set; }
    public long ErrorsRateLimited { get; set; }
    public long ErrorsServer { get; set; }
    public long CacheHits { get; set; }
    public byte[] LatencySketch { get; set; } = [];
    public byte[] TtftSketch { get; set; } = [];

    public RollupCell ToCell() => new()
    {
        Requests = Requests,
        PromptTokens = PromptTokens,
        CompletionTokens = CompletionTokens,
        CachedTokens = CachedTokens,
        CostUsd = CostUsd,
        ErrorsClient = ErrorsClient,
        ErrorsRateLimited = ErrorsRateLimited,
        ErrorsServer = ErrorsServer,
        CacheHits = CacheHits,
        Latency = DDSketch.FromBytes(LatencySketch),
        Ttft = DDSketch.FromBytes(TtftSketch),
    };
}
