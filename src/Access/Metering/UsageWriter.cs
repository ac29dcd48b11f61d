using System.Threading.Channels;
using LlmMarketplace.Access.Budgets;
using LlmMarketplace.Access.Telemetry;

namespace LlmMarketplace.Access.Metering;

/// <summary>
/// Writes usage records durably with group commit: callers enqueue a record and await its commit; one background
/// writer takes everything queued and commits it in a single transaction, so concurrent requests share one fsync.
/// When the database cannot take a batch, the batch goes to the <see cref="UsageSpool"/> on local disk instead and is
/// delivered when the database returns: the calls complete, and nothing is lost.
/// With Redis, batches go to the usage stream first (<see cref="UsageStream"/>), whose consumers write them to the database.
/// </summary>
internal sealed class UsageWriter(AccessStore store, UsageSpool spool, AccessMetrics metrics, AccessOptions options, AccessEvents events, ILogger<UsageWriter> logger,
    UsageStream? stream = null) : BackgroundService
{
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });

    private sealed record Pending(UsageRow Row, TaskCompletionSource Committed);

    /// <summary>Completes once the record is committed; throws if the commit failed.</summary>
    public Task WriteAsync(UsageRow row)
    {
        var pending = new Pending(row, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending))
        {
            return Task.FromException(new InvalidOperationException("The usage writer has stopped."));
        }
        return pending.Committed.Task;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(options.MaxBatchSize);
        var rows = new List<UsageRow>(options.MaxBatchSize);
        var reader = _queue.Reader;
        // Keep draining after stop is requested: requests in flight still await their records.
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            while (batch.Count < options.MaxBatchSize && reader.TryRead(out var next))
            {
                batch.Add(next);
                rows.Add(next.Row);
            }
            if (stream is not null && await stream.TryAppendAsync(rows))
            {
                foreach (var p in batch) p.Committed.TrySetResult();
                batch.Clear();
                rows.Clear();
                continue;
            }
            try
            {
                await store.InsertUsageBatchAsync(rows, CancellationToken.None);
                metrics.Committed(rows.Count);
                foreach (var p in batch) p.Committed.TrySetResult();
                events.UsageCommitted.Raise();
            }
            catch (Exception ex)
            {
                Log.UsageCommitFailed(logger, rows.Count, ex);
                try
                {
                    spool.Append(rows);
                    foreach (var p in batch) p.Committed.TrySetResult();
                }
                catch (Exception spoolError) when (spoolError is IOException or UnauthorizedAccessException)
                {
                    Log.UsageSpoolFailed(logger, rows.Count, spoolError);
                    foreach (var p in batch) p.Committed.TrySetException(ex);
                }
            }
            batch.Clear();
            rows.Clear();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
    }
}
