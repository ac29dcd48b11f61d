using LlmMarketplace.BuildingBlocks.Distributed.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmMarketplace.BuildingBlocks.Distributed;

/// <summary>Registers the shared state: one Redis connection, the invalidation bus and the Redis readiness check, when <c>Redis:Configuration</c> is set.</summary>
public static class DistributedExtensions
{
    public static IHostApplicationBuilder AddDistributed(this IHostApplicationBuilder builder)
    {
        var options = ReadOptions(builder.Configuration);
        var services = builder.Services;
        services.TryAddSingleton(options);
        services.TryAddSingleton<DistributedMetrics>();
        if (!options.IsConfigured)
        {
            services.TryAddSingleton<IInvalidationBus, LocalInvalidationBus>();
            return builder;
        }
        services.TryAddSingleton(static sp =>
        {
            var loggers = sp.GetRequiredService<ILoggerFactory>();
            var connection = new RedisConnection(sp.GetRequiredService<RedisOptions>(), loggers);
            DistributedLog.Configured(loggers.CreateLogger("LlmMarketplace.Distributed"),
                string.Join(",", connection.Multiplexer.GetEndPoints().Select(static e => e.ToString())), connection.Options.FailureMode);
            return connection;
        });
        services.TryAddSingleton<SharedStateGuard>();
        services.TryAddSingleton<IInvalidationBus, RedisInvalidationBus>();
        services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis", tags: ["ready"]);
        return builder;
    }

    /// <summary>The <c>Redis</c> section, validated: a wrong setting fails the start with what to set.</summary>
    public static RedisOptions ReadOptions(IConfiguration configuration)
    {
        var section = configuration.GetSection(RedisOptions.SectionName);
        var errors = new Validation.ValidationErrors();
        var mode = section["FailureMode"];
        var failureMode = RedisFailureMode.Open;
        if (!string.IsNullOrWhiteSpace(mode) && !Enum.TryParse(mode, ignoreCase: true, out failureMode))
        {
            errors.Add("Redis:FailureMode", $"'{mode}' is not a failure mode; set open or closed.");
        }
        var timeout = TimeSpan.FromSeconds(1);
        if (section["OperationTimeout"] is { Length: > 0 } t && (!TimeSpan.TryParse(t, System.Globalization.CultureInfo.InvariantCulture, out timeout) || timeout <= TimeSpan.Zero))
        {
            errors.Add("Redis:OperationTimeout", "Set a positive duration, e.g. 00:00:01.");
        }
        if (!errors.IsEmpty) throw new Validation.InvalidConfigurationException(errors);
        return new RedisOptions
        {
            Configuration = section["Configuration"],
            FailureMode = failureMode,
            KeyPrefix = section["KeyPrefix"] is { Length: > 0 } prefix ? prefix : "llmm:",
            OperationTimeout = timeout,
        };
    }
}

/// <summary>
/// Readiness of the shared state: healthy when Redis answers; when it does not, degraded under fail-open (the replica
/// serves with local limits) and unhealthy under fail-closed (it refuses calls that need Redis).
/// </summary>
internal sealed class RedisHealthCheck(RedisConnection redis) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        Exception? error = null;
        if (redis.IsConnected)
        {
            try
            {
                var latency = await redis.Database.PingAsync();
                return HealthCheckResult.Healthy($"Redis reachable ({latency.TotalMilliseconds:0.#} ms)");
            }
            catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
            {
                error = ex;
            }
        }
        var description = $"Redis unreachable{(error is null ? "" : ": " + error.GetType().Name)}";
        return redis.Options.FailureMode == RedisFailureMode.Open
            ? HealthCheckResult.Degraded(description + "; limits and counters are local to this replica (fail-open)")
            : HealthCheckResult.Unhealthy(description + "; calls that need shared limits are refused (fail-closed)");
    }
}
