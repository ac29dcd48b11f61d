using System.Text;
using System.Text.Json.Serialization;
using LlmMarketplace.Access.Telemetry;
using LlmMarketplace.BuildingBlocks.Hosting;
using LlmMarketplace.BuildingBlocks.Storage;

namespace LlmMarketplace.Access.Metering;

/// <summary>
/// Usage kept on local disk while the database cannot take it: a JSON-lines file in the data directory, each batch
/// appended and flushed to disk before the calls it belongs to complete. Delivery renames the file first (new records go
/// to a fresh one), inserts its records idempotently (each has its own record id) and deletes it, so a crash at any
/// point delivers everything once: at worst a batch is inserted again and ignored.
/// </summary>
internal sealed class UsageSpool(StorageOptions storage, AccessStore store, AccessOptions options, AccessMetrics metrics, ILogger<UsageSpool> logger)
{
    public const string FileName = "usage-spool.jsonl";
    public const string DeliveringFileName = "usage-spool.delivering.jsonl";

    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _delivery = new(1, 1);
    private readonly string _path = Path.Combine(storage.DataDirectory, FileName);
    private readonly string _deliveringPath = Path.Combine(storage.DataDirectory, DeliveringFileName);

    public bool HasPending => File.Exists(_path) || File.Exists(_deliveringPath);

    /// <summary>Appends the records and flushes them to the disk; throws if the disk cannot take them either.</summary>
    public void Append(IReadOnlyList<UsageRow> rows)
    {
        var text = new StringBuilder();
        foreach (var row in rows)
        {
            text.Append(JsonSerializer.Serialize(row, UsageSpoolJson.Default.UsageRow)).Append('\n');
        }
        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        lock (_gate)
        {
            Directory.CreateDirectory(storage.DataDirectory);
            using var file = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read);
            file.Write(bytes);
            file.Flush(flushToDisk: true);
        }
        metrics.Spooled(rows.Count);
    }

    /// <summary>Delivers what is on disk to the database; returns the number of records delivered. Throws while the database is down.</summary>
    public async Task<int> DeliverAsync(CancellationToken cancellationToken)
    {
        await _delivery.WaitAsync(cancellationToken);
        try
        {
            var delivered = 0;
            while (await DeliverOneAsync(cancellationToken) is { } count) delivered += count;
            return delivered;
        }
        finally
        {
            _delivery.Release();
        }
    }

    private async Task<int?> DeliverOneAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            // A file left by an interrupted delivery goes first; otherwise take the current spool.
            if (!File.Exists(_deliveringPath))
            {
                if (!File.Exists(_path)) return null;
                File.Move(_path, _deliveringPath);
            }
        }
        var rows = new List<UsageRow>();
        foreach (var line in await File.ReadAllLinesAsync(_deliveringPath, cancellationToken))
        {
            if (line.Length == 0) continue;
            try
            {
                if (JsonSerializer.Deserialize(line, UsageSpoolJson.Default.UsageRow) is { } row) rows.Add(row);
            }
            catch (JsonException)
            {
                // A line cut short by a crash mid-append: its call never completed.
                Log.SpoolLineSkipped(logger);
            }
        }
        for (var i = 0; i < rows.Count; i += options.MaxBatchSize)
        {
            await store.InsertUsageBatchAsync(rows.GetRange(i, Math.Min(options.MaxBatchSize, rows.Count - i)), cancellationToken);
        }
        File.Delete(_deliveringPath);
        metrics.Committed(rows.Count);
        Log.SpoolDelivered(logger, rows.Count);
        return rows.Count;
    }
}

/// <summary>Delivers spooled usage at start and then on an interval, until the database takes it.</summary>
internal sealed class UsageSpoolDelivery(UsageSpool spool, AccessOptions options, TimeProvider time, ILogger<UsageSpoolDelivery> logger) : PeriodicWorker(time, logger)
{
    protected override TimeSpan Interval => options.SpoolRetryInterval;

    protected override async Task RunAsync(CancellationToken cancellationToken)
    {
        if (spool.HasPending) await spool.DeliverAsync(cancellationToken);
    }

    protected override void OnFailed(Exception exception) => Log.SpoolDeliveryFailed(Logger, exception.GetType().Name);
}

[JsonSerializable(typeof(UsageRow))]
internal sealed partial class UsageSpoolJson : JsonSerializerContext;
