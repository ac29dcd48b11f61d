using LlmMarketplace.Access.Telemetry;
using LlmMarketplace.BuildingBlocks.Distributed;
using LlmMarketplace.BuildingBlocks.Hosting;
using StackExchange.Redis;

namespace LlmMarketplace.Access.Metering;

/// <summary>
/// The usage event stream (a Redis Stream): each replica appends its usage records there before the calls complete,
/// and a consumer group (one consumer per replica) writes them to the database in batches, each record once (by its
/// record id). Entries a dead replica had read but not written are claimed by the others after
/// <c>Access:UsageStreamClaimAfter</c>. When Redis cannot take a batch the writer falls back to the database, then to the spool.
/// </summary>
internal sealed class UsageStream(RedisConnection redis)
{
    public const string Group = "usage-writers";

    public RedisKey Key { get; } = redis.Key("usage");

    public RedisConnection Redis => redis;

    /// <summary>Appends the records; false when Redis cannot take them (the caller writes them another way).</summary>
    public async Task<bool> TryAppendAsync(IReadOnlyList<UsageRow> rows)
    {
        if (!redis.IsConnected) return false;
        try
        {
            var db = redis.Database;
            await Task.WhenAll(rows.Select(row => db.StreamAddAsync(Key, "r", JsonSerializer.Serialize(row, UsageSpoolJson.Default.UsageRow))));
            return true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return false;
        }
    }
}

/// <summary>This replica's consumer in the usage stream's group: reads batches, writes them to the database, acknowledges and deletes them.</summary>
internal sealed class UsageStreamConsumer(UsageStream stream, AccessStore store, AccessOptions options, AccessMetrics metrics, TimeProvider time, ILogger<UsageStreamConsumer> logger)
    : PeriodicWorker(time, logger)
{
    private readonly string _consumer = Environment.MachineName + "-" + Guid.NewGuid().ToString("N")[..12];
    private bool _groupReady;
    private long _lastClaim;

    // Entries this consumer read but did not write and acknowledge (a database or Redis failure) are read again first.
    private bool _readPending;

    /// <summary>
    /// The usage record an entry holds, or null when it holds none that can be stored (not JSON, not a record, a required
    /// field missing): such an entry would fail its batch on every attempt, so it is logged and acknowledged instead.
    /// </summary>
    internal static UsageRow? Parse(StreamEntry entry)
    {
        var json = (string?)entry["r"];
        if (json is null) return null;
        UsageRow? row;
        try
        {
            row = JsonSerializer.Deserialize(json, UsageSpoolJson.Default.UsageRow);
        }
        catch (JsonException)
        {
            return null;
        }
        return row is { RequestId: not null, Operation: not null, Model: not null, Cache: not null } ? row : null;
    }

    /// <summary>The consumer looks for new entries this often; it reads on at once only after a full batch.</summary>
    protected override TimeSpan Interval { get; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Redis or the database is away: the entries stay pending and are read again a second later.</summary>
    protected override TimeSpan RetryDelay { get; } = TimeSpan.FromSeconds(1);

    protected override async Task RunAsync(CancellationToken cancellationToken)
    {
        var db = stream.Redis.Database;
        if (!_groupReady)
        {
            try
            {
                await db.StreamCreateConsumerGroupAsync(stream.Key, UsageStream.Group, "0-0", createStream: true);
            }
            catch (RedisServerException ex) when (ex.Message.Contains("BUSYGROUP", StringComparison.Ordinal))
            {
                // another replica made it
            }
            _groupReady = true;
        }
        while (true)
        {
            var entries = _readPending ? await db.StreamReadGroupAsync(stream.Key, UsageStream.Group, _consumer, "0", options.MaxBatchSize) : [];
            _readPending = entries.Length > 0;
            if (entries.Length == 0) entries = await db.StreamReadGroupAsync(stream.Key, UsageStream.Group, _consumer, ">", options.MaxBatchSize);
            if (entries.Length == 0 && Time.GetElapsedTime(_lastClaim) > options.UsageStreamClaimAfter / 2)
            {
                _lastClaim = Time.GetTimestamp();
                // Entries of a replica that died after reading them.
                var claimed = await db.StreamAutoClaimAsync(stream.Key, UsageStream.Group, _consumer, (long)options.UsageStreamClaimAfter.TotalMilliseconds, "0-0", options.MaxBatchSize);
                entries = claimed.ClaimedEntries;
            }
            if (entries.Length == 0) return;
            var rows = new List<UsageRow>(entries.Length);
            foreach (var entry in entries)
            {
                if (entry.IsNull) continue;
                if (Parse(entry) is { } row) rows.Add(row);
                else Log.UsageStreamEntryRejected(Logger, entry.Id.ToString());
            }
            // The whole batch in one transaction (multi-row INSERTs); records already stored are skipped by their id.
            await store.InsertUsageBatchAsync(rows, cancellationToken);
            metrics.Committed(rows.Count);
            var ids = entries.Select(static e => e.Id).ToArray();
            // Both in one round trip (the connection keeps their order).
            var acknowledged = db.StreamAcknowledgeAsync(stream.Key, UsageStream.Group, ids);
            var deleted = db.StreamDeleteAsync(stream.Key, ids);
            await Task.WhenAll(acknowledged, deleted);
            // A batch that was not full took what there was: the next round, an interval later, takes what arrived
            // meanwhile in one transaction, rather than this loop committing a few records at a time under load.
            if (entries.Length < options.MaxBatchSize) return;
        }
    }

    protected override void OnFailed(Exception exception)
    {
        Log.UsageStreamFailed(Logger, exception.GetType().Name);
        _readPending = true;
        if (exception is RedisServerException { Message: var m } && m.Contains("NOGROUP", StringComparison.Ordinal)) _groupReady = false;
    }
}
