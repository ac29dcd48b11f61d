using LlmMarketplace.BuildingBlocks.Secrets;
using LlmMarketplace.BuildingBlocks.Validation;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace LlmMarketplace.BuildingBlocks.Distributed;

/// <summary>
/// The one <see cref="ConnectionMultiplexer"/> of the process, shared by every module. It connects in the background and
/// reconnects by itself, so a replica starts (and keeps serving, per <see cref="RedisOptions.FailureMode"/>) while Redis is down.
/// </summary>
public sealed class RedisConnection : IAsyncDisposable
{
    private readonly ConnectionMultiplexer _multiplexer;

    public RedisConnection(RedisOptions options, ILoggerFactory loggerFactory)
    {
        Options = options;
        var configuration = options.Configuration!;
        if (SecretReference.IsReference(configuration))
        {
            if (!SecretReference.TryResolve(configuration, out var resolved, out var error))
            {
                var errors = new ValidationErrors();
                errors.Add("Redis:Configuration", error!);
                throw new InvalidConfigurationException(errors);
            }
            configuration = resolved!;
        }
        ConfigurationOptions parsed;
        try
        {
            parsed = ConfigurationOptions.Parse(configuration);
        }
        catch (ArgumentException ex)
        {
            var errors = new ValidationErrors();
            errors.Add("Redis:Configuration", $"not a valid Redis configuration string ({ex.Message}); set e.g. \"127.0.0.1:6379\".");
            throw new InvalidConfigurationException(errors);
        }
        parsed.AbortOnConnectFail = false;
        var timeout = (int)Math.Max(1, options.OperationTimeout.TotalMilliseconds);
        parsed.SyncTimeout = timeout;
        parsed.AsyncTimeout = timeout;
        parsed.ConnectTimeout = Math.Max(parsed.ConnectTimeout, 1000);
        parsed.ClientName ??= "llm-marketplace";
        parsed.LoggerFactory ??= loggerFactory;
        _multiplexer = ConnectionMultiplexer.Connect(parsed);
        KeyPrefix = options.KeyPrefix;
    }

    public RedisOptions Options { get; }

    public string KeyPrefix { get; }

    public IConnectionMultiplexer Multiplexer => _multiplexer;

    public IDatabase Database => _multiplexer.GetDatabase();

    public bool IsConnected => _multiplexer.IsConnected;

    /// <summary>Whether the Redis is a cluster, where one script may only touch keys of one slot (learnt once connected).</summary>
    public bool IsCluster
    {
        get
        {
            var known = Volatile.Read(ref _cluster);
            if (known != 0) return known == 2;
            if (!_multiplexer.IsConnected) return false;
            var cluster = Array.Exists(_multiplexer.GetServers(), static s => s.IsConnected && s.ServerType == ServerType.Cluster);
            Volatile.Write(ref _cluster, cluster ? 2 : 1);
            return cluster;
        }
    }

    // 0: not known yet (not connected), 1: one server, 2: a cluster.
    private int _cluster;

    public RedisKey Key(string name) => new(KeyPrefix + name);

    public RedisChannel Channel(string name) => RedisChannel.Literal(KeyPrefix + name);

    public async ValueTask DisposeAsync() => await _multiplexer.DisposeAsync();
}
