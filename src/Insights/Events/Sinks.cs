using LlmMarketplace.BuildingBlocks.Distributed;
using OpenTelemetry;
using OpenTelemetry.Logs;
using StackExchange.Redis;

namespace LlmMarketplace.Insights.Events;

/// <summary>
/// Adds events to a Redis stream (<c>XADD</c> with fields <c>id</c>, <c>type</c> and <c>event</c>, the JSON envelope) named
/// <see cref="EventsOptions.RedisStream"/> or else <c>events</c> under the key prefix,
/// trimmed to about <see cref="EventsOptions.RedisMaxLength"/> entries; registered only when
/// <see cref="EventsOptions.ToRedisStream"/>. The cursor moves after the batch was added.
/// It writes through the process's one <see cref="RedisConnection"/> (<c>Redis:Configuration</c>), not a connection of its
/// own: the stream lives on the Redis the replicas share, and a Redis that is away fails the batch, which is sent again.
/// </summary>
internal sealed class RedisStreamSink(RedisConnection redis, EventsOptions options) : IEventSink
{
    public string Name => "events.redis";

    public async Task DeliverAsync(IReadOnlyList<LoggedEvent> batch, Func<Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Task>, Task<bool>> advance, CancellationToken cancellationToken)
    {
        var db = redis.Database;
        var stream = options.RedisStream is { Length: > 0 } name ? new RedisKey(name) : redis.Key("events");
        var adds = new List<Task>(batch.Count);
        foreach (var e in batch)
        {
            adds.Add(db.StreamAddAsync(stream,
                [new NameValueEntry("id", e.Id), new NameValueEntry("type", e.Type), new NameValueEntry("event", e.Json)],
                maxLength: options.RedisMaxLength, useApproximateMaxLength: true));
        }
        await Task.WhenAll(adds);
        await advance(static (_, _) => Task.CompletedTask);
    }
}

/// <summary>Emits each event as an OTLP log record (body: the JSON envelope; attributes: id and type), exported as it is written.</summary>
internal sealed class OtlpLogSink : IEventSink, IDisposable
{
    private readonly ILoggerFactory _factory;
    private readonly ILogger _logger;

    public OtlpLogSink(string endpoint)
    {
        _factory = LoggerFactory.Create(b => b.AddOpenTelemetry(o =>
        {
            o.IncludeFormattedMessage = true;
            o.AddOtlpExporter((exporter, processor) =>
            {
                exporter.Endpoint = new Uri(endpoint);
                processor.ExportProcessorType = ExportProcessorType.Simple;
            });
        }));
        _logger = _factory.CreateLogger("LlmMarketplace.Events");
    }

    public string Name => "events.otlp";

    public async Task DeliverAsync(IReadOnlyList<LoggedEvent> batch, Func<Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Task>, Task<bool>> advance, CancellationToken cancellationToken)
    {
        foreach (var e in batch)
        {
            Log.EventOut(_logger, e.Type, e.Id, e.Json);
        }
        await advance(static (_, _) => Task.CompletedTask);
    }

    public void Dispose() => _factory.Dispose();
}
