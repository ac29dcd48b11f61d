using System.Text;

namespace LlmMarketplace.Insights.Analytics;

/// <summary>A dimension usage is broken down by, and its column.</summary>
internal static class Dimensions
{
    public static readonly IReadOnlyDictionary<string, string> Columns = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["team"] = "team_id",
        ["app"] = "app_id",
        ["key"] = "key_id",
        ["model"] = "model",
        ["listing"] = "listing",
        ["deployment"] = "deployment",
        ["provider"] = "provider",
    };

    public static string Names => string.Join(", ", Columns.Keys);
}

/// <summary>Filters on dimensions (exact values) and, for callers who are not admins or viewers, the teams they may see.</summary>
internal sealed record AnalyticsFilter(IReadOnlyDictionary<string, string> Equal, IReadOnlyList<string>? TeamScope)
{
    /// <summary>Dimensions whose value must be one of several (for example every version of a listing, <c>slug@version</c>).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> AnyOf { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
}

/// <summary>A time range over the rollups of one granularity: [FromMs, ToMs) on bucket starts.</summary>
internal readonly record struct RangePart(string Granularity, long FromMs, long ToMs);

/// <summary>Sums and merged sketches for one (bucket, group).</summary>
internal sealed class Aggregate : RollupSums
{
    public DDSketch? Latency;
    public DDSketch? Ttft;

    public long Errors => ErrorsClient + ErrorsRateLimited + ErrorsServer;
}

/// <summary>Reads rollups for the analytics endpoints: sums in SQL, sketches merged here.</summary>
internal sealed class AnalyticsQuery(InsightsStore store)
{
    /// <summary>
    /// Splits [from, to) (minute-aligned) into the coarsest buckets that tile it: whole days, the hours at either end,
    /// and the minutes at either end, so any range reads few rows and still counts every record exactly once.
    /// </summary>
    public static IReadOnlyList<RangePart> Decompose(long fromMs, long toMs)
    {
        var parts = new List<RangePart>();
        if (toMs <= fromMs) return parts;
        var fromH = Ceil(fromMs, Granularity.Hour);
        var toH = Granularity.Floor(toMs, Granularity.Hour);
        if (fromH >= toH)
        {
            parts.Add(new RangePart(Granularity.Minute, fromMs, toMs));
            return parts;
        }
        if (fromMs < fromH) parts.Add(new RangePart(Granularity.Minute, fromMs, fromH));
        if (toH < toMs) parts.Add(new RangePart(Granularity.Minute, toH, toMs));
        var fromD = Ceil(fromH, Granularity.Day);
        var toD = Granularity.Floor(toH, Granularity.Day);
        if (fromD >= toD)
        {
            parts.Add(new RangePart(Granularity.Hour, fromH, toH));
            return parts;
        }
        if (fromH < fromD) parts.Add(new RangePart(Granularity.Hour, fromH, fromD));
        if (toD < toH) parts.Add(new RangePart(Granularity.Hour, toD, toH));
        parts.Add(new RangePart(Granularity.Day, fromD, toD));
        return parts;
    }

    public static long Ceil(long ms, string granularity)
    {
        var floor = Granularity.Floor(ms, granularity);
        return floor == ms ? ms : floor + Granularity.Millis(granularity);
    }

    /// <summary>
    /// Aggregates rows by (bucket when <paramref name="byBucket"/>, group when <paramref name="groupColumn"/> is set).
    /// Sketches are read only for the groups <paramref name="sketchGroups"/> names (all when null), and not at all
    /// when <paramref name="withSketches"/> is false.
    /// </summary>
    public async Task<Dictionary<(long Bucket, string Group), Aggregate>> AggregateAsync(
        IReadOnlyList<RangePart> parts, AnalyticsFilter filter, string? groupColumn, bool byBucket, bool withSketches,
        IReadOnlyCollection<string>? sketchGroups, CancellationToken cancellationToken)
    {
        var result = new Dictionary<(long, string), Aggregate>();
        if (parts.Count == 0 || filter.TeamScope is { Count: 0 } || filter.AnyOf.Values.Any(static v => v.Count == 0)) return result;
        // Without filters, scope or grouping, the per-bucket totals answer with one row per bucket; grouped by one
        // dimension and filtered at most on that one, the per-dimension sums do; anything else reads the combinations.
        var dimension = groupColumn is null ? null : Dimensions.Columns.First(c => c.Value == groupColumn).Key;
        string table;
        if (groupColumn is null && filter.Equal.Count == 0 && filter.AnyOf.Count == 0 && filter.TeamScope is null)
        {
            table = "insights_rollup_totals";
        }
        else if (dimension is not null && filter.TeamScope is null && filter.AnyOf.Count == 0 && filter.Equal.Keys.All(k => k == dimension))
        {
            table = "insights_rollup_dimensions";
            filter = filter with { Equal = filter.Equal.ToDictionary(static e => "value", static e => e.Value) };
            groupColumn = "value";
        }
        else
        {
            table = "insights_rollups";
        }
        var (where, parameters) = Where(parts, filter, InList);
        if (table == "insights_rollup_dimensions")
        {
            where += " AND dimension = @dimension";
            parameters.Add("dimension", dimension);
        }
        var group = groupColumn ?? "''";
        var bucket = byBucket ? "bucket_ms" : "CAST(0 AS BIGINT)";
        var groupBy = string.Join(", ", new[] { byBucket ? "bucket_ms" : null, groupColumn }.OfType<string>());
        var sql = $"""
            SELECT {bucket} AS bucket, {group} AS grp, {Sum("requests")}, {Sum("prompt_tokens")}, {Sum("completion_tokens")},
                {Sum("cached_tokens")}, COALESCE(SUM(cost_usd), 0) AS cost_usd, {Sum("errors_client")}, {Sum("errors_rate_limited")},
                {Sum("errors_server")}, {Sum("cache_hits")}
            FROM {table} WHERE {where}{(groupBy.Length > 0 ? " GROUP BY " + groupBy : "")}
            """;
        await using (var connection = await store.OpenAsync(cancellationToken))
        {
            foreach (var row in await connection.QueryAsync<SumRow>(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken)))
            {
                if (row.Requests == 0) continue;
                var aggregate = new Aggregate();
                aggregate.AddSums(row);
                result[(row.Bucket, row.Grp ?? "")] = aggregate;
            }
        }
        if (!withSketches || result.Count == 0 || sketchGroups is { Count: 0 }) return result;

        var sketchWhere = where;
        if (sketchGroups is not null && groupColumn is not null)
        {
            sketchWhere += " AND " + InList(groupColumn, "sketchGroups");
            parameters.Add("sketchGroups", sketchGroups.ToArray());
        }
        await using (var connection = await store.OpenAsync(cancellationToken))
        {
            var rows = connection.QueryUnbufferedAsync<SketchRow>(
                $"SELECT {bucket} AS bucket, {group} AS grp, latency_sketch, ttft_sketch FROM {table} WHERE {sketchWhere}", parameters);
            await foreach (var row in rows.WithCancellation(cancellationToken))
            {
                if (!result.TryGetValue((row.Bucket, row.Grp ?? ""), out var aggregate)) continue;
                (aggregate.Latency ??= new DDSketch()).MergeBytes(row.LatencySketch);
                (aggregate.Ttft ??= new DDSketch()).MergeBytes(row.TtftSketch);
            }
        }
        return result;
    }

    /// <summary>
    /// A membership test for an array parameter: PostgreSQL takes the array as one parameter (<c>= ANY</c>); for SQLite
    /// Dapper expands <c>IN @name</c> into one parameter per element.
    /// </summary>
    private string InList(string column, string parameter) =>
        store.Database.Provider == BuildingBlocks.Storage.StorageProvider.Postgres ? $"{column} = ANY(@{parameter})" : $"{column} IN @{parameter}";

    private static string Sum(string column) => $"CAST(COALESCE(SUM({column}), 0) AS BIGINT) AS {column}";

    private static (string Where, DynamicParameters Parameters) Where(IReadOnlyList<RangePart> parts, AnalyticsFilter filter, Func<string, string, string> InList)
    {
        var p = new DynamicParameters();
        var sb = new StringBuilder("(");
        for (var i = 0; i < parts.Count; i++)
        {
            if (i > 0) sb.Append(" OR ");
            sb.Append($"(granularity = @g{i} AND bucket_ms >= @f{i} AND bucket_ms < @t{i})");
            p.Add($"g{i}", parts[i].Granularity);
            p.Add($"f{i}", parts[i].FromMs);
            p.Add($"t{i}", parts[i].ToMs);
        }
        sb.Append(')');
        foreach (var (dimension, value) in filter.Equal)
        {
            // Column names come from the fixed dimension table, never from the request.
            sb.Append($" AND {(dimension == "value" ? "value" : Dimensions.Columns[dimension])} = @eq_{dimension}");
            p.Add($"eq_{dimension}", value);
        }
        foreach (var (dimension, values) in filter.AnyOf)
        {
            sb.Append(" AND " + InList(Dimensions.Columns[dimension], $"in_{dimension}"));
            p.Add($"in_{dimension}", values.ToArray());
        }
        if (filter.TeamScope is { } scope)
        {
            sb.Append(" AND " + InList("team_id", "teamScope"));
            p.Add("teamScope", scope.ToArray());
        }
        return (sb.ToString(), p);
    }

    private sealed class SumRow : RollupSums
    {
        public long Bucket { get; set; }
        public string? Grp { get; set; }
    }

    private sealed class SketchRow
    {
        public long Bucket { get; set; }
        public string? Grp { get; set; }
        public byte[] LatencySketch { get; set; } = [];
        public byte[] TtftSketch { get; set; } = [];
    }
}
