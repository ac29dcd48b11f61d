using System.Data.Common;
using System.Threading.Channels;
using LlmMarketplace.BuildingBlocks.Storage;

namespace LlmMarketplace.Optimizer.Experiments;

/// <summary>A call put into an experiment's variant, with its guard metrics.</summary>
internal sealed record ExperimentCall(string RequestId, string ExperimentId, string Variant, int Status, decimal CostUsd, double LatencyMs, long AtMs);

/// <summary>
/// Takes experiment calls off the gateway's path: a bounded queue that a background worker drains into batches, one
/// multi-row statement each on PostgreSQL (arrays unnested) and one transaction each on SQLite. What is queued at shutdown
/// is written before the host stops.
/// </summary>
internal sealed class ExperimentCallWriter : BackgroundService
{
    /// <summary>Calls written by one statement at most.</summary>
    public const int MaxBatch = 256;

    /// <summary>Calls waiting at most; past it a call waits for room rather than being lost.</summary>
    public const int Capacity = 10_000;

    private readonly Channel<ExperimentCall> _queue = Channel.CreateBounded<ExperimentCall>(
        new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Database _database;
    private readonly OptimizerMetrics _metrics;
    private readonly ILogger<ExperimentCallWriter> _logger;
    private long _batches;

    public ExperimentCallWriter(Database database, OptimizerMetrics metrics, ILogger<ExperimentCallWriter> logger)
    {
        _database = database;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Batches written so far.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Queues a call; completes at once unless the queue is full.</summary>
    public ValueTask EnqueueAsync(ExperimentCall call, CancellationToken cancellationToken) =>
        _queue.Writer.TryWrite(call) ? ValueTask.CompletedTask : _queue.Writer.WriteAsync(call, cancellationToken);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // No more calls come in; what is queued is written before the host stops. The worker may not have run at all
        // (stopped right after it started), so whatever it left is written here, once it has ended.
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
        await DrainAsync();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => DrainAsync();

    private async Task DrainAsync()
    {
        var batch = new List<ExperimentCall>(MaxBatch);
        // Not the stopping token: on shutdown the queue is completed and drained rather than abandoned.
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var call)) batch.Add(call);
            if (batch.Count == 0) continue;
            try
            {
                await WriteAsync(batch);
                Interlocked.Increment(ref _batches);
                _metrics.ExperimentCallsWritten(batch.Count);
            }
            catch (Exception ex) when (ex is DbException or InvalidOperationException or TimeoutException)
            {
                Log.ExperimentCallsLost(_logger, batch.Count, ex);
            }
            batch.Clear();
        }
    }

    private async Task WriteAsync(IReadOnlyList<ExperimentCall> batch)
    {
        await using var connection = await _database.OpenAsync();
        // A client may repeat a request id: the first call of an id is the one its feedback is judged against.
        if (_database.Provider == StorageProvider.Postgres)
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO insights_experiment_calls (request_id, experiment_id, variant, status, cost_usd, latency_ms, at_ms)
                SELECT * FROM unnest(@RequestIds, @ExperimentIds, @Variants, @Statuses, @Costs, @Latencies, @Ats)
                ON CONFLICT (request_id) DO NOTHING
                """,
                new
                {
                    RequestIds = batch.Select(static c => c.RequestId).ToArray(),
                    ExperimentIds = batch.Select(static c => c.ExperimentId).ToArray(),
                    Variants = batch.Select(static c => c.Variant).ToArray(),
                    Statuses = batch.Select(static c => c.Status).ToArray(),
                    Costs = batch.Select(static c => c.CostUsd).ToArray(),
                    Latencies = batch.Select(static c => c.LatencyMs).ToArray(),
                    Ats = batch.Select(static c => c.AtMs).ToArray(),
                });
            return;
        }
        await using var transaction = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync(
            """
            INSERT INTO insights_experiment_calls (request_id, experiment_id, variant, status, cost_usd, latency_ms, at_ms)
            VALUES (@RequestId, @ExperimentId, @Variant, @Status, @CostUsd, @LatencyMs, @AtMs)
            ON CONFLICT (request_id) DO NOTHING
            """, batch, transaction);
        await transaction.CommitAsync();
    }
}
