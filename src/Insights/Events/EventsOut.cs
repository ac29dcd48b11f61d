using LlmMarketplace.Access.Metering;
using LlmMarketplace.BuildingBlocks.Hosting;

namespace LlmMarketplace.Insights.Events;

/// <summary>The <c>Insights:Events</c> section: batching of events out and their sinks.</summary>
public sealed record EventsOptions
{
    public const string SectionName = "Insights:Events";

    /// <summary>Events per batch; a full batch goes at once.</summary>
    public int BatchSize { get; init; } = 100;

    /// <summary>The longest an event waits for its batch to fill.</summary>
    public TimeSpan BatchDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Publish every usage record as a <c>usage.recorded</c> event (when any sink is configured).</summary>
    public bool IncludeUsage { get; init; } = true;

    /// <summary>
    /// Adds every event to a Redis stream (on the Redis of <c>Redis:Configuration</c>). Off by default: a stream nobody reads
    /// would hold up to <see cref="RedisMaxLength"/> events in Redis's memory, and every usage record would become an
    /// event in the log. Naming a <see cref="RedisStream"/> turns it on too.
    /// </summary>
    public bool RedisStreamEnabled { get; init; }

    /// <summary>
    /// The Redis stream events are added to, by its full key name; naming it turns the stream on. Unset: <c>events</c>
    /// under <c>Redis:KeyPrefix</c> (<c>llmm:events</c> by default), so installations sharing a Redis keep their events apart.
    /// </summary>
    public string? RedisStream { get; init; }

    /// <summary>Whether events go to the Redis stream (when Redis is configured).</summary>
    public bool ToRedisStream => RedisStreamEnabled || RedisStream is { Length: > 0 };

    /// <summary>The approximate length the Redis stream is trimmed to.</summary>
    public int RedisMaxLength { get; init; } = 1_000_000;

    /// <summary>Where events go as OTLP logs; defaults to <c>Telemetry:OtlpEndpoint</c>. Empty: not at all.</summary>
    public string? OtlpEndpoint { get; init; }

    /// <summary>How long events are kept for sinks to read.</summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromDays(7);
}

/// <summary>A destination of events out: a webhook, a Redis stream, OTLP logs.</summary>
internal interface IEventSink
{
    /// <summary>The cursor name in <c>insights_cursors</c>.</summary>
    string Name { get; }

    /// <summary>Delivers a batch; inside <paramref name="advance"/>'s transaction when the sink writes to the database.</summary>
    Task DeliverAsync(IReadOnlyList<LoggedEvent> batch, Func<Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Task>, Task<bool>> advance, CancellationToken cancellationToken);
}

/// <summary>
/// Reads the event log per sink from the sink's own durable cursor and hands it over in batches of
/// <see cref="EventsOptions.BatchSize"/> or after <see cref="EventsOptions.BatchDelay"/>. The cursor moves only after a
/// batch was handed over (or, for webhooks, in the same transaction as the outbox rows), so every event reaches every
/// sink at least once; ids are stable across redeliveries.
/// </summary>
internal sealed class EventsOutWorker(
    EventLog log,
    InsightsStore store,
    WebhookOutbox outbox,
    EventsOptions options,
    InsightsOptions insights,
    IEnumerable<IEventSink> staticSinks,
    TimeProvider time,
    ILogger<EventsOutWorker> logger) : SignalledWorker(log.Appended, time, logger)
{
    private readonly SemaphoreSlim _runLock = new(1, 1);
    private readonly IEventSink[] _static = [.. staticSinks];
    private readonly Dictionary<string, (long Seq, long FirstSeenTimestamp)> _gaps = new(StringComparer.Ordinal);
    private long _lastPruneMs;

    /// <summary>Whether any sink wants events (usage events are only logged then).</summary>
    public async Task<bool> HasSinksAsync(CancellationToken cancellationToken) =>
        _static.Length > 0 || (await outbox.SubscribersAsync(WebhookKinds.Events, cancellationToken)).Count > 0;

    /// <summary>Starts a new sink at the end of the log (it receives what happens from now on).</summary>
    public async Task StartAtEndAsync(string sinkName, CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenAsync(cancellationToken);
        var end = await connection.ExecuteScalarAsync<long?>(new CommandDefinition("SELECT MAX(seq) FROM insights_events", cancellationToken: cancellationToken)) ?? 0;
        var nowMs = Time.GetUtcNow().ToUnixTimeMilliseconds();
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO insights_cursors (name, position, updated_ms) VALUES (@sinkName, @end, @nowMs) ON CONFLICT (name) DO NOTHING",
            new { sinkName, end, nowMs }, cancellationToken: cancellationToken));
    }

    /// <summary>A batch waits <see cref="EventsOptions.BatchDelay"/> at most, so the log is looked at every second at least.</summary>
    protected override TimeSpan Interval => options.BatchDelay < TimeSpan.FromSeconds(1) ? options.BatchDelay : TimeSpan.FromSeconds(1);

    protected override async Task RunAsync(CancellationToken cancellationToken)
    {
        await RunOnceAsync(cancellationToken);
        await PruneIfDueAsync(cancellationToken);
    }

    protected override void OnFailed(Exception exception) => Log.EventsOutFailed(Logger, exception);

    /// <summary>Hands every sink the batches that are due; returns how many events went out.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        await _runLock.WaitAsync(cancellationToken);
        try
        {
            var sinks = new List<IEventSink>(_static);
            foreach (var id in await outbox.SubscribersAsync(WebhookKinds.Events, cancellationToken)) sinks.Add(new WebhookSink(id, outbox));
            var sent = 0;
            foreach (var sink in sinks)
            {
                while (true)
                {
                    var n = await RunSinkAsync(sink, cancellationToken);
                    if (n == 0) break;
                    sent += n;
                }
            }
            return sent;
        }
        finally
        {
            _runLock.Release();
        }
    }

    private async Task<int> RunSinkAsync(IEventSink sink, CancellationToken cancellationToken)
    {
        var cursor = await store.GetCursorAsync(sink.Name, cancellationToken);
        var read = await log.ReadAfterAsync(cursor, options.BatchSize, cancellationToken);
        var batch = new List<LoggedEvent>(read.Count);
        var expected = cursor + 1;
        foreach (var e in read)
        {
            if (e.Seq != expected)
            {
                // Possibly a commit in flight on another replica: wait for it a while, then step over it.
                if (!_gaps.TryGetValue(sink.Name, out var gap) || gap.Seq != expected)
                {
                    _gaps[sink.Name] = (expected, Time.GetTimestamp());
                    break;
                }
                if (Time.GetElapsedTime(gap.FirstSeenTimestamp) < insights.GapTimeout) break;
                _gaps.Remove(sink.Name);
            }
            batch.Add(e);
            expected = e.Seq + 1;
        }
        if (batch.Count == 0) return 0;
        var nowMs = Time.GetUtcNow().ToUnixTimeMilliseconds();
        if (batch.Count < options.BatchSize && nowMs - batch[0].CreatedMs < options.BatchDelay.TotalMilliseconds) return 0;
        var next = batch[^1].Seq;
        var advanced = false;
        await sink.DeliverAsync(batch, async apply =>
        {
            advanced = await store.AdvanceAsync(sink.Name, cursor, next, nowMs, apply, cancellationToken);
            return advanced;
        }, cancellationToken);
        if (!advanced) return 0;
        Log.EventsSent(Logger, batch.Count, sink.Name);
        return batch.Count;
    }

    /// <summary>Appends usage records as events inside the rollup transaction (so none is lost or added twice), in one statement per batch.</summary>
    public static Task AppendUsageAsync(InsightsStore store, System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, IReadOnlyList<UsageEvent> batch, CancellationToken cancellationToken)
    {
        var events = new StoredEvent[batch.Count];
        for (var i = 0; i < events.Length; i++)
        {
            var envelope = EventLog.ForUsage(batch[i]);
            events[i] = new StoredEvent(envelope.Id, envelope.Type, JsonSerializer.Serialize(envelope, InsightsJson.Options), batch[i].AtMs);
        }
        return store.InsertEventsAsync(connection, transaction, events, cancellationToken);
    }

    private async Task PruneIfDueAsync(CancellationToken cancellationToken)
    {
        var nowMs = Time.GetUtcNow().ToUnixTimeMilliseconds();
        if (nowMs - _lastPruneMs < 3_600_000) return;
        _lastPruneMs = nowMs;
        await using var connection = await store.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM insights_events WHERE created_ms < @before", new { before = nowMs - (long)options.Retention.TotalMilliseconds }, cancellationToken: cancellationToken));
    }

    /// <summary>A webhook subscribed to events: a batch becomes one outbox row, written with the cursor's move.</summary>
    private sealed class WebhookSink(string webhookId, WebhookOutbox outbox) : IEventSink
    {
        public string Name => CursorName(webhookId);

        public async Task DeliverAsync(IReadOnlyList<LoggedEvent> batch, Func<Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Task>, Task<bool>> advance, CancellationToken cancellationToken)
        {
            EventEnvelope[] envelopes = [.. batch.Select(static e => e.Envelope())];
            if (await advance((connection, transaction) => outbox.InsertAsync(connection, transaction, webhookId, WebhookKinds.Events, envelopes, cancellationToken)))
            {
                outbox.Enqueued.Raise();
            }
        }
    }

    public static string CursorName(string webhookId) => $"events.webhook.{webhookId}";
}
