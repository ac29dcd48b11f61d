using LlmMarketplace.Access.Metering;
using LlmMarketplace.Catalog.Contracts;
using LlmMarketplace.Insights.Analytics;

namespace LlmMarketplace.Insights.Sla;

/// <summary>What one listing version measures on one deployment over the SLA window, against its targets.</summary>
public sealed record SlaMeasurement(
    string Listing,
    string Deployment,
    long WindowSeconds,
    long Requests,
    double? P95LatencyMs,
    double UptimePercent,
    double ErrorRate,
    double? TargetP95LatencyMs,
    double? TargetUptimePercent,
    IReadOnlyList<string> Violating);

/// <summary>One recorded breach of one SLA target.</summary>
public sealed record SlaViolation(
    string Id,
    string Listing,
    string Deployment,
    string Target,
    double Objective,
    double Measured,
    double Worst,
    long Requests,
    long WindowSeconds,
    DateTimeOffset StartedAt,
    DateTimeOffset LastSeenAt,
    DateTimeOffset? ResolvedAt);

/// <summary>SLA targets a listing can promise.</summary>
public static class SlaTargets
{
    public const string P95Latency = "p95_latency_ms";
    public const string Uptime = "uptime_percent";
}

/// <summary>
/// Measures every listing version per deployment over a rolling window (from the minute rollups, so every replica's
/// traffic counts) against the SLA in its listing: p95 latency and uptime (the share of calls without a server error).
/// A breach opens a violation (counted in <c>marketplace_sla_violations_total</c>), kept open while it lasts and
/// resolved when the measurement is back within target. Runs after rollups, at most once per evaluation interval.
/// </summary>
internal sealed class SlaTracker(
    InsightsStore store,
    InsightsOptions options,
    InsightsMetrics metrics,
    TimeProvider time,
    ILogger<SlaTracker> logger,
    Events.EventLog events,
    IListingDirectory? listings = null) : IUsageObserver
{
    private long _lastEvaluationTimestamp;
    private bool _evaluated;

    public async ValueTask ObserveAsync(IReadOnlyList<UsageEvent> batch, CancellationToken cancellationToken)
    {
        if (listings is null) return;
        if (_evaluated && time.GetElapsedTime(_lastEvaluationTimestamp) < options.SlaEvaluationInterval) return;
        _evaluated = true;
        _lastEvaluationTimestamp = time.GetTimestamp();
        await EvaluateAsync(cancellationToken);
    }

    /// <summary>Measures every listing version with traffic in the window.</summary>
    public async Task<IReadOnlyList<SlaMeasurement>> MeasureAsync(string? listingFilter, CancellationToken cancellationToken)
    {
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        var fromMs = Granularity.Floor(nowMs - (long)options.SlaWindow.TotalMilliseconds, Granularity.Minute);
        await using var connection = await store.OpenAsync(cancellationToken);
        var sql = "SELECT listing, deployment, requests, errors_server, latency_sketch FROM insights_rollups WHERE granularity = 'm' AND bucket_ms >= @fromMs AND listing <> '' AND deployment <> ''";
        if (listingFilter is not null) sql += " AND (listing = @listingFilter OR listing LIKE @prefix)";
        var rows = connection.QueryUnbufferedAsync<Row>(sql, new { fromMs, listingFilter, prefix = listingFilter + "@%" });
        var groups = new Dictionary<(string, string), (long Requests, long Errors, DDSketch Latency)>();
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            var key = (row.Listing, row.Deployment);
            var g = groups.TryGetValue(key, out var existing) ? existing : (0, 0, new DDSketch());
            g.Latency.MergeBytes(row.LatencySketch);
            groups[key] = (g.Requests + row.Requests, g.Errors + row.ErrorsServer, g.Latency);
        }
        var targets = (listings?.All() ?? []).ToDictionary(static t => t.Name, StringComparer.Ordinal);
        var window = (long)options.SlaWindow.TotalSeconds;
        var result = new List<SlaMeasurement>();
        foreach (var ((listing, deployment), g) in groups.OrderBy(static g => g.Key))
        {
            targets.TryGetValue(listing, out var t);
            var p95 = g.Latency.Quantile(0.95);
            var uptime = g.Requests == 0 ? 100 : 100.0 * (g.Requests - g.Errors) / g.Requests;
            var violating = new List<string>();
            if (g.Requests >= options.SlaMinRequests)
            {
                if (t?.P95LatencyMs is { } maxP95 && p95 > maxP95) violating.Add(SlaTargets.P95Latency);
                if (t?.UptimePercent is { } minUptime && uptime < minUptime) violating.Add(SlaTargets.Uptime);
            }
            result.Add(new SlaMeasurement(listing, deployment, window, g.Requests, p95 is { } p ? Math.Round(p, 3) : null, Math.Round(uptime, 4),
                g.Requests == 0 ? 0 : (double)g.Errors / g.Requests, t?.P95LatencyMs, t?.UptimePercent, violating));
        }
        return result;
    }

    /// <summary>Opens violations for new breaches, refreshes open ones, resolves those back within target.</summary>
    public async Task EvaluateAsync(CancellationToken cancellationToken)
    {
        var measurements = await MeasureAsync(null, cancellationToken);
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var connection = await store.OpenAsync(cancellationToken);
        var open = (await connection.QueryAsync<ViolationRow>(new CommandDefinition(
            "SELECT * FROM insights_sla_violations WHERE resolved_ms IS NULL", cancellationToken: cancellationToken)))
            .ToDictionary(static v => (v.Listing, v.Deployment, v.Target));
        foreach (var m in measurements)
        {
            foreach (var target in new[] { SlaTargets.P95Latency, SlaTargets.Uptime })
            {
                var objective = target == SlaTargets.P95Latency ? m.TargetP95LatencyMs : m.TargetUptimePercent;
                if (objective is null) continue;
                var measured = target == SlaTargets.P95Latency ? m.P95LatencyMs ?? 0 : m.UptimePercent;
                var key = (m.Listing, m.Deployment, target);
                var breached = m.Violating.Contains(target);
                if (open.Remove(key, out var existing))
                {
                    if (breached)
                    {
                        var worst = target == SlaTargets.P95Latency ? Math.Max(existing.Worst, measured) : Math.Min(existing.Worst, measured);
                        await connection.ExecuteAsync(new CommandDefinition(
                            "UPDATE insights_sla_violations SET measured = @measured, worst = @worst, requests = @requests, last_seen_ms = @nowMs WHERE id = @id",
                            new { measured, worst, requests = m.Requests, nowMs, id = existing.Id }, cancellationToken: cancellationToken));
                    }
                    else if (m.Requests >= options.SlaMinRequests)
                    {
                        await ResolveAsync(connection, existing, nowMs, cancellationToken);
                    }
                    continue;
                }
                if (!breached) continue;
                var row = new ViolationRow
                {
                    Id = "slav_" + Guid.CreateVersion7().ToString("N"),
                    Listing = m.Listing,
                    Deployment = m.Deployment,
                    Target = target,
                    Objective = objective.Value,
                    Measured = measured,
                    Worst = measured,
                    Requests = m.Requests,
                    WindowSeconds = m.WindowSeconds,
                    StartedMs = nowMs,
                    LastSeenMs = nowMs,
                };
                await connection.ExecuteAsync(new CommandDefinition(
                    """
                    INSERT INTO insights_sla_violations (id, listing, deployment, target, objective, measured, worst, requests, window_seconds, started_ms, last_seen_ms, resolved_ms)
                    VALUES (@Id, @Listing, @Deployment, @Target, @Objective, @Measured, @Worst, @Requests, @WindowSeconds, @StartedMs, @LastSeenMs, NULL)
                    """, row, cancellationToken: cancellationToken));
                metrics.SlaViolation(m.Listing, target);
                Log.SlaViolated(logger, m.Listing, m.Deployment, target, measured, objective.Value);
                await PublishAsync("sla.violated", row.ToDto(), cancellationToken);
            }
        }
        // Open violations of listings without traffic in the window any more are over.
        foreach (var stale in open.Values) await ResolveAsync(connection, stale, nowMs, cancellationToken);
    }

    private async Task ResolveAsync(System.Data.Common.DbConnection connection, ViolationRow row, long nowMs, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE insights_sla_violations SET resolved_ms = @nowMs WHERE id = @id", new { nowMs, id = row.Id }, cancellationToken: cancellationToken));
        row.ResolvedMs = nowMs;
        Log.SlaResolved(logger, row.Listing, row.Deployment, row.Target);
        await PublishAsync("sla.resolved", row.ToDto(), cancellationToken);
    }

    private Task PublishAsync(string type, SlaViolation violation, CancellationToken cancellationToken) =>
        events.AppendAsync(type, System.Text.Json.JsonSerializer.SerializeToElement(violation, InsightsJson.Options), cancellationToken);

    public async Task<IReadOnlyList<SlaViolation>> ViolationsAsync(string? listing, bool openOnly, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenAsync(cancellationToken);
        var sql = "SELECT * FROM insights_sla_violations WHERE 1 = 1";
        if (listing is not null) sql += " AND (listing = @listing OR listing LIKE @prefix)";
        if (openOnly) sql += " AND resolved_ms IS NULL";
        sql += " ORDER BY started_ms DESC, id DESC LIMIT @limit";
        var rows = await connection.QueryAsync<ViolationRow>(new CommandDefinition(sql, new { listing, prefix = listing + "@%", limit }, cancellationToken: cancellationToken));
        return [.. rows.Select(static r => r.ToDto())];
    }

    private sealed class Row
    {
        public string Listing { get; set; } = "";
        public string Deployment { get; set; } = "";
        public long Requests { get; set; }
        public long ErrorsServer { get; set; }
        public byte[] LatencySketch { get; set; } = [];
    }

    private sealed class ViolationRow
    {
        public string Id { get; set; } = "";
        public string Listing { get; set; } = "";
        public string Deployment { get; set; } = "";
        public string Target { get; set; } = "";
        public double Objective { get; set; }
        public double Measured { get; set; }
        public double Worst { get; set; }
        public long Requests { get; set; }
        public long WindowSeconds { get; set; }
        public long StartedMs { get; set; }
        public long LastSeenMs { get; set; }
        public long? ResolvedMs { get; set; }

        public SlaViolation ToDto() => new(Id, Listing, Deployment, Target, Objective, Measured, Worst, Requests, WindowSeconds,
            DateTimeOffset.FromUnixTimeMilliseconds(StartedMs), DateTimeOffset.FromUnixTimeMilliseconds(LastSeenMs),
            ResolvedMs is { } r ? DateTimeOffset.FromUnixTimeMilliseconds(r) : null);
    }
}
