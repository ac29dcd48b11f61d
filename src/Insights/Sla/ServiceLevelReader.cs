using System.Collections.Concurrent;
using System.Text;
using LlmMarketplace.Catalog.Contracts;
using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Insights.Analytics;

namespace LlmMarketplace.Insights.Sla;

/// <summary>
/// A listing version's measured service level over <see cref="InsightsOptions.ServiceLevelWindow"/> (30 days): calls that
/// reached a deployment, their p95 latency (merged sketches) and uptime (share without a server error), judged against
/// the listing's SLA as SLA tracking judges it. Read from the per-dimension rollups (so every replica's traffic counts)
/// in one query for all the listings asked for, and kept per listing for <see cref="InsightsOptions.ServiceLevelRefresh"/>,
/// so a search page costs at most one query and usually none.
/// </summary>
internal sealed class ServiceLevelReader(InsightsStore store, InsightsOptions options, TimeProvider time, IListingDirectory? listings = null) : IServiceLevelReader
{
    private readonly ConcurrentDictionary<string, (long ReadAt, MeasuredServiceLevel Level)> _cache = new(StringComparer.Ordinal);

    public TimeSpan Window => options.ServiceLevelWindow;

    public async ValueTask<IReadOnlyDictionary<string, MeasuredServiceLevel>> ReadAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, MeasuredServiceLevel>(names.Count, StringComparer.Ordinal);
        var stale = new List<string>();
        foreach (var name in names.Distinct(StringComparer.Ordinal))
        {
            if (options.ServiceLevelRefresh > TimeSpan.Zero && _cache.TryGetValue(name, out var cached) && time.GetElapsedTime(cached.ReadAt) < options.ServiceLevelRefresh)
                result[name] = cached.Level;
            else stale.Add(name);
        }
        if (stale.Count == 0) return result;
        var readAt = time.GetTimestamp();
        var measured = await MeasureAsync(stale, cancellationToken);
        foreach (var name in stale)
        {
            var level = measured.GetValueOrDefault(name) ?? MeasuredServiceLevel.NoTraffic;
            result[name] = level;
            _cache[name] = (readAt, level);
        }
        // Listings leave the catalog; a cache of names nobody asks for any more is trimmed now and then.
        if (_cache.Count > 10_000) _cache.Clear();
        return result;
    }

    private async Task<Dictionary<string, MeasuredServiceLevel>> MeasureAsync(IReadOnlyList<string> names, CancellationToken cancellationToken)
    {
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        var window = options.ServiceLevelWindow;
        // Buckets finer than what is still kept at the window's start are gone: start at a coarser boundary there.
        var align = window >= options.HourRetention ? Granularity.Day : window >= options.MinuteRetention ? Granularity.Hour : Granularity.Minute;
        var fromMs = Granularity.Floor(nowMs - (long)window.TotalMilliseconds, align);
        var toMs = Granularity.Floor(nowMs, Granularity.Minute) + Granularity.Millis(Granularity.Minute);
        var parts = AnalyticsQuery.Decompose(fromMs, toMs);

        var parameters = new DynamicParameters();
        var sql = new StringBuilder("SELECT value, bucket_ms, requests, errors_server, latency_sketch FROM insights_rollup_dimensions WHERE dimension = @dimension AND ");
        parameters.Add("dimension", RollupBuilder.ServedListingDimension);
        sql.Append(store.Database.Provider == StorageProvider.Postgres ? "value = ANY(@names)" : "value IN @names");
        parameters.Add("names", names.ToArray());
        sql.Append(" AND (");
        for (var i = 0; i < parts.Count; i++)
        {
            if (i > 0) sql.Append(" OR ");
            sql.Append($"(granularity = @g{i} AND bucket_ms >= @f{i} AND bucket_ms < @t{i})");
            parameters.Add($"g{i}", parts[i].Granularity);
            parameters.Add($"f{i}", parts[i].FromMs);
            parameters.Add($"t{i}", parts[i].ToMs);
        }
        sql.Append(')');

        var groups = new Dictionary<string, (long Requests, long Errors, long SinceMs, DDSketch Latency)>(StringComparer.Ordinal);
        await using (var connection = await store.OpenAsync(cancellationToken))
        {
            var rows = connection.QueryUnbufferedAsync<Row>(sql.ToString(), parameters);
            await foreach (var row in rows.WithCancellation(cancellationToken))
            {
                if (row.Requests == 0) continue;
                var g = groups.TryGetValue(row.Value, out var existing) ? existing : (0, 0, long.MaxValue, new DDSketch());
                g.Latency.MergeBytes(row.LatencySketch);
                groups[row.Value] = (g.Requests + row.Requests, g.Errors + row.ErrorsServer, Math.Min(g.SinceMs, row.BucketMs), g.Latency);
            }
        }

        var result = new Dictionary<string, MeasuredServiceLevel>(StringComparer.Ordinal);
        foreach (var (name, g) in groups)
        {
            var p95 = g.Latency.Quantile(0.95) is { } p ? Math.Round(p, 3) : (double?)null;
            var uptime = Math.Round(100.0 * (g.Requests - g.Errors) / g.Requests, 4);
            result[name] = new MeasuredServiceLevel(g.Requests, p95, uptime, Judge(name, g.Requests, p95, uptime), DateTimeOffset.FromUnixTimeMilliseconds(g.SinceMs));
        }
        return result;
    }

    /// <summary>Whether the measurement keeps every target the listing declares; null without targets or with too few calls to judge.</summary>
    private bool? Judge(string name, long requests, double? p95, double uptime)
    {
        if (requests < options.SlaMinRequests || listings?.FindByModel(name) is not { } targets) return null;
        if (targets.P95LatencyMs is null && targets.UptimePercent is null) return null;
        if (targets.P95LatencyMs is { } maxP95 && p95 > maxP95) return false;
        if (targets.UptimePercent is { } minUptime && uptime < minUptime) return false;
        return true;
    }

    private sealed class Row
    {
        public string Value { get; set; } = "";
        public long BucketMs { get; set; }
        public long Requests { get; set; }
        public long ErrorsServer { get; set; }
        public byte[] LatencySketch { get; set; } = [];
    }
}
