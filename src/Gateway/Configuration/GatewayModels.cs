using LlmMarketplace.BuildingBlocks.Distributed;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Telemetry;
using LlmMarketplace.Gateway.Tokens;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace LlmMarketplace.Gateway.Configuration;

/// <summary>
/// The gateway's models as a reloading snapshot, refreshed by the mechanism every module uses (<see cref="SnapshotRefresh"/>):
/// the configuration merged with the model sources (the catalog's listings), reloaded at once when the configuration
/// file changes or a source announces a change. There is no periodic catch-up: both tell of every change. A
/// configuration that does not validate is refused with its errors logged, and the last valid one stays in use.
/// </summary>
internal sealed class GatewayModels(IConfiguration configuration, ModelRegistry registry, IEnumerable<IModelSource> sources,
    GatewayConfig started, ILogger<GatewayModels> logger)
{
    private readonly IModelSource[] _sources = sources.ToArray();
    private readonly Lock _gate = new();
    private GatewayConfig _config = started;
    private string _read = Fingerprint(configuration);

    /// <summary>The registry is built from the validated startup configuration, so nothing is loaded again at start.</summary>
    public static readonly SnapshotRefresh Refresh = new("the gateway's models", Topic: null, Interval: null,
        static (services, _) =>
        {
            services.GetRequiredService<GatewayModels>().Reload();
            return Task.CompletedTask;
        })
    {
        LoadAtStart = false,
        Changes = static services => services.GetRequiredService<GatewayModels>().Changes(),
    };

    private CompositeChangeToken Changes() =>
        new([configuration.GetReloadToken(), .. _sources.Select(static s => s.GetChangeToken())]);

    private void Reload()
    {
        lock (_gate)
        {
            // A source's change leaves the configuration as it was: only a changed configuration is read and validated again.
            var read = Fingerprint(configuration);
            var reread = !string.Equals(read, _read, StringComparison.Ordinal);
            if (reread)
            {
                _read = read;
                var errors = new ValidationErrors();
                var config = GatewayConfigReader.Read(configuration, errors);
                if (!errors.IsEmpty)
                {
                    foreach (var line in errors.Lines()) logger.LogError("Configuration change rejected: {Error}", line);
                    reread = false;
                }
                else
                {
                    _config = config;
                }
            }
            registry.Apply(ModelSources.Merge(_config, _sources));
            if (reread) Log.ConfigurationLoaded(logger, registry.Providers.Count, registry.Models.Count);
        }
    }

    private static string Fingerprint(IConfiguration configuration) =>
        string.Join('\n', configuration.AsEnumerable().OrderBy(static e => e.Key, StringComparer.Ordinal).Select(static e => e.Key + "=" + e.Value));
}

/// <summary>Says at start what the gateway loaded, and loads the tokenizers' vocabularies off the request path.</summary>
internal sealed class GatewayStart(ModelRegistry registry, TokenCounter tokens, ILogger<GatewayStart> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        Log.ConfigurationLoaded(logger, registry.Providers.Count, registry.Models.Count);
        _ = Task.Run(() => tokens.Count("gpt-4o", "warm up") + tokens.Count("gpt-4", "warm up"), CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
