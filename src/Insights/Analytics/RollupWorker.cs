using LlmMarketplace.Access.Budgets;
using LlmMarketplace.Access.Metering;
using LlmMarketplace.Catalog.Contracts;
using LlmMarketplace.BuildingBlocks.Hosting;

namespace LlmMarketplace.Insights.Analytics;

/// <summary>Sees every usage record exactly once, on the replica that rolled it up, after its rollup committed.</summary>
internal interface IUsageObserver
{
    ValueTask ObserveAsync(IReadOnlyList<UsageEvent> batch, CancellationToken cancellationToken);
}

/// <summary>
/// Folds committed usage records into minute, hour and day rollups. Its position in the usage feed is a row in
/// <c>insights_cursors</c>, advanced by compare-and-set in the same transaction as the rollups, so nothing is lost
/// across restarts and replicas sharing the database never count a record twice. It wakes when Access commits usage
/// and otherwise every <see cref="InsightsOptions.RollupInterval"/>.
/// </summary>
internal sealed class RollupWorker(
    IUsageFeed feed,
    InsightsStore store,
    InsightsOptions options,
    AccessEvents accessEvents,
    IEnumerable<IUsageObserver> observers,
    InsightsMetrics metrics,
    TimeProvider time,
    ILogger<RollupWorker> logger,
    Events.EventsOutWorker eventsOut,
    Events.EventsOptions eventsOptions,
    Events.EventLog eventLog,
    IListingDirectory? listings = null) : SignalledWorker(accessEvents.UsageCommitted, time, logger)
{
    public const string CursorName = "rollups";

    private readonly SemaphoreSlim _runLock = new(1, 1);
    private readonly IUsageObserver[] _observers = [.. observers];
    private (long Seq, long FirstSeenTimestamp)? _gap;
    private long _lastPruneMs;

    /// <summary>The position rolled up to (the highest sequence number applied), as last seen by this replica.</summary>
    public long Position { get; private set; }

    /// <summary>The position up to which observers (SLA, detectors) have seen usage on this replica.</summary>
    public long ObservedPosition { get; private set; }

    protected override TimeSpan Interval => options.RollupInterval;

    /// <summary>
    /// Under load Access commits hundreds of times a second: fold them in batches rather than racing every commit for the
    /// database's write lock (which slowed the gateway's own usage writes).
    /// </summary>
    protected override TimeSpan MinimumGap { get; } = TimeSpan.FromMilliseconds(250);

    protected override async Task RunAsync(CancellationToken cancellationToken)
    {
        while (await RunOnceAsync(cancellationToken) > 0) { }
        await PruneIfDueAsync(cancellationToken);
    }

    protected override void OnFailed(Exception exception) => Log.RollupFailed(Logger, exception);

    /// <summary>Reads and applies one batch; returns how many records it applied (0 when there was nothing to do).</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        await _runLock.WaitAsync(cancellationToken);
        try
        {
            var cursor = await store.GetCursorAsync(CursorName, cancellationToken);
            Position = cursor;
            var read = await feed.ReadAfterAsync(cursor, options.RollupBatchSize, cancellationToken);
            var batch = TakeContiguous(cursor, read);
            if (batch.Count == 0) return 0;
            var next = batch[^1].Seq;
            var cells = RollupBuilder.Build(batch, ListingOf);
            var totals = RollupBuilder.Totals(cells);
            var byDimension = RollupBuilder.ByDimension(cells);
            var nowMs = Time.GetUtcNow().ToUnixTimeMilliseconds();
            var withUsageEvents = eventsOptions.IncludeUsage && await eventsOut.HasSinksAsync(cancellationToken);
            var applied = await store.AdvanceAsync(CursorName, cursor, next, nowMs, async (connection, transaction) =>
            {
                await InsightsStore.MergeRollupsAsync(connection, transaction, cells, cancellationToken);
                await InsightsStore.MergeTotalsAsync(connection, transaction, totals, cancellationToken);
                await InsightsStore.MergeDimensionsAsync(connection, transaction, byDimension, cancellationToken);
                if (withUsageEvents) await Events.EventsOutWorker.AppendUsageAsync(store, connection, transaction, batch, cancellationToken);
            }, cancellationToken);
            if (!applied)
            {
                Log.CursorMoved(Logger, CursorName);
                return 0;
            }
            Position = next;
            if (withUsageEvents) eventLog.Appended.Raise();
            metrics.RolledUp(batch.Count);
            Log.RolledUp(Logger, batch.Count, next);
            foreach (var observer in _observers) await observer.ObserveAsync(batch, cancellationToken);
            ObservedPosition = next;
            return batch.Count;
        }
        finally
        {
            _runLock.Release();
        }
    }

    /// <summary>
    /// The records up to the first gap in sequence numbers. A gap may be a commit still in flight on another replica
    /// (PostgreSQL hands out identities before commit) or a rolled-back insert: it is waited for up to
    /// <see cref="InsightsOptions.GapTimeout"/> and then stepped over.
    /// </summary>
    private List<UsageEvent> TakeContiguous(long cursor, IReadOnlyList<UsageEvent> read)
    {
        var taken = new List<UsageEvent>(read.Count);
        var expected = cursor + 1;
        foreach (var e in read)
        {
            if (e.Seq != expected)
            {
                if (_gap is not { } gap || gap.Seq != expected)
                {
                    _gap = (expected, Time.GetTimestamp());
                    break;
                }
                if (Time.GetElapsedTime(gap.FirstSeenTimestamp) < options.GapTimeout) break;
                Log.GapSkipped(Logger, expected, e.Seq - 1);
                _gap = null;
            }
            taken.Add(e);
            expected = e.Seq + 1;
        }
        return taken;
    }

    private string? ListingOf(string model) => listings?.FindByModel(model)?.Name;

    private async Task PruneIfDueAsync(CancellationToken cancellationToken)
    {
        var nowMs = Time.GetUtcNow().ToUnixTimeMilliseconds();
        if (nowMs - _lastPruneMs < 3_600_000) return;
        _lastPruneMs = nowMs;
        foreach (var (granularity, retention) in new[] { (Granularity.Minute, options.MinuteRetention), (Granularity.Hour, options.HourRetention), (Granularity.Day, options.DayRetention) })
        {
            if (retention <= TimeSpan.Zero) continue;
            var pruned = await store.PruneAsync(granularity, nowMs - (long)retention.TotalMilliseconds, cancellationToken);
            if (pruned > 0) Log.Pruned(Logger, pruned, granularity);
        }
    }
}
