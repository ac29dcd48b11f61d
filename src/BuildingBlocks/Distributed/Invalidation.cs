using LlmMarketplace.BuildingBlocks.Distributed.Telemetry;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace LlmMarketplace.BuildingBlocks.Distributed;

/// <summary>
/// Tells the other replicas that something they hold in memory changed (keys, policies, configuration), so they reload it
/// at once instead of at their next refresh. Without Redis there are no other replicas and publishing does nothing.
/// </summary>
public interface IInvalidationBus
{
    /// <summary>Announces a change of <paramref name="topic"/> (e.g. <c>access</c>). Never throws: a lost message is caught up by the periodic refresh.</summary>
    Task PublishAsync(string topic);

    /// <summary>Runs <paramref name="handler"/> whenever another replica announces a change of <paramref name="topic"/>.</summary>
    void Subscribe(string topic, Func<CancellationToken, Task> handler);
}

/// <summary>The single-node bus: nobody else to tell.</summary>
internal sealed class LocalInvalidationBus : IInvalidationBus
{
    public Task PublishAsync(string topic) => Task.CompletedTask;

    public void Subscribe(string topic, Func<CancellationToken, Task> handler)
    {
    }
}

/// <summary>Redis pub/sub on one channel; each message is <c>topic|origin</c> and a replica ignores its own.</summary>
internal sealed class RedisInvalidationBus : IInvalidationBus, IDisposable
{
    private readonly RedisConnection _redis;
    private readonly ILogger<RedisInvalidationBus> _logger;
    private readonly string _origin = Guid.NewGuid().ToString("N");
    private readonly Dictionary<string, List<Func<CancellationToken, Task>>> _handlers = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly RedisChannel _channel;
    private bool _subscribed;

    public RedisInvalidationBus(RedisConnection redis, ILogger<RedisInvalidationBus> logger)
    {
        _redis = redis;
        _logger = logger;
        _channel = redis.Channel("invalidate");
        // A replica starts while Redis is down (fail-open): it subscribes once Redis is reachable. The multiplexer
        // restores a subscription it holds after every later reconnect.
        redis.Multiplexer.ConnectionRestored += (_, _) => TrySubscribe();
        TrySubscribe();
    }

    private void TrySubscribe()
    {
        lock (_gate)
        {
            if (_subscribed) return;
            try
            {
                _redis.Multiplexer.GetSubscriber().Subscribe(_channel).OnMessage(OnMessageAsync);
                _subscribed = true;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                DistributedLog.NotSubscribed(_logger, ex);
            }
        }
    }

    public async Task PublishAsync(string topic)
    {
        try
        {
            await _redis.Multiplexer.GetSubscriber().PublishAsync(_channel, topic + "|" + _origin);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            DistributedLog.InvalidationNotPublished(_logger, topic, ex);
        }
    }

    public void Subscribe(string topic, Func<CancellationToken, Task> handler)
    {
        lock (_gate)
        {
            if (!_handlers.TryGetValue(topic, out var list)) _handlers[topic] = list = [];
            list.Add(handler);
        }
    }

    private async Task OnMessageAsync(ChannelMessage message)
    {
        var text = (string?)message.Message ?? "";
        var bar = text.LastIndexOf('|');
        if (bar < 0 || text.AsSpan(bar + 1).SequenceEqual(_origin)) return;
        var topic = text[..bar];
        Func<CancellationToken, Task>[] handlers;
        lock (_gate)
        {
            handlers = _handlers.TryGetValue(topic, out var list) ? [.. list] : [];
        }
        foreach (var handler in handlers)
        {
            try
            {
                await handler(_stopping.Token);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                DistributedLog.InvalidationFailed(_logger, topic, ex);
            }
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }
}
