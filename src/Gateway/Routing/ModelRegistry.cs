using System.Collections.Concurrent;
using System.Collections.Frozen;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Providers;

namespace LlmMarketplace.Gateway.Routing;

/// <summary>A deployment ready to route to: its configuration, its provider client and its observed health.</summary>
internal sealed record RoutableDeployment(DeploymentConfig Config, ProviderClient Provider, DeploymentHealth Health)
{
    public string Id => Config.Id;

    /// <summary>A blended price used to compare deployments: input + output per 1M tokens, plus the per-request fee scaled to 1M tokens of a typical 1k-token call.</summary>
    public decimal BlendedPrice => Config.Pricing.InputPerMTok + Config.Pricing.OutputPerMTok + (Config.Pricing.PerRequest * 1000m);
}

/// <summary>Read-only view of the configured models' deployments (id, provider, region) for other modules, such as policy.</summary>
public interface IDeploymentDirectory
{
    /// <summary>The deployments of a model, or null when the gateway does not serve it.</summary>
    IReadOnlyList<DeploymentConfig>? DeploymentsOf(string model);
}

/// <summary>A model clients can name, with its deployments.</summary>
internal sealed record RoutableModel(ModelConfig Config, IReadOnlyList<RoutableDeployment> Deployments)
{
    public string Name => Config.Name;
}

/// <summary>
/// The models the gateway serves, as an immutable snapshot swapped atomically when configuration changes.
/// Provider clients and deployment health survive a swap when their configuration is unchanged.
/// </summary>
internal sealed class ModelRegistry(TimeProvider time) : IDisposable, Pipeline.IGatewayModelCatalog, IDeploymentDirectory
{
    private readonly ConcurrentDictionary<string, DeploymentHealth> _health = new(StringComparer.Ordinal);
    private readonly Lock _applyLock = new();
    private Snapshot _snapshot = new(FrozenDictionary<string, RoutableModel>.Empty, FrozenDictionary<string, ProviderClient>.Empty, GatewaySettings.Default);

    public GatewaySettings Settings => _snapshot.Settings;

    public IReadOnlyCollection<RoutableModel> Models => _snapshot.Models.Values;

    public IReadOnlyCollection<ProviderClient> Providers => _snapshot.Providers.Values;

    public bool TryGet(string name, out RoutableModel model) => _snapshot.Models.TryGetValue(name, out model!);

    public bool TryGetModel(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ModelConfig? model)
    {
        model = _snapshot.Models.TryGetValue(name, out var routable) ? routable.Config : null;
        return model is not null;
    }

    public IEnumerable<DeploymentHealth> Health => _health.Values;

    public IReadOnlyList<DeploymentConfig>? DeploymentsOf(string model) =>
        _snapshot.Models.TryGetValue(model, out var m) ? m.Config.Deployments : null;

    public bool TryGetHealth(string deploymentId, out DeploymentHealth health) => _health.TryGetValue(deploymentId, out health!);

    public void Apply(GatewayConfig config)
    {
        lock (_applyLock)
        {
            var old = _snapshot;
            var providers = new Dictionary<string, ProviderClient>(StringComparer.Ordinal);
            foreach (var p in config.Providers)
            {
                providers[p.Name] = old.Providers.TryGetValue(p.Name, out var existing) && SameProvider(existing.Config, p)
                    ? existing
                    : new ProviderClient(p);
            }

            var models = new Dictionary<string, RoutableModel>(StringComparer.Ordinal);
            foreach (var m in config.Models)
            {
                var deployments = new List<RoutableDeployment>(m.Deployments.Count);
                foreach (var d in m.Deployments)
                {
                    if (!providers.TryGetValue(d.Provider, out var client)) continue;
                    var health = _health.GetOrAdd(d.Id, static (id, s) => new DeploymentHealth(id, s.Settings.CircuitBreaker, s.Settings.LatencyEwmaAlpha, s.Time), (Settings: config.Settings, Time: time));
                    health.Circuit.Settings = config.Settings.CircuitBreaker;
                    health.Alpha = config.Settings.LatencyEwmaAlpha;
                    deployments.Add(new RoutableDeployment(d, client, health));
                }
                models[m.Name] = new RoutableModel(m, deployments);
            }

            _snapshot = new Snapshot(models.ToFrozenDictionary(StringComparer.Ordinal), providers.ToFrozenDictionary(StringComparer.Ordinal), config.Settings);
            foreach (var (name, client) in old.Providers)
            {
                if (!providers.TryGetValue(name, out var now) || !ReferenceEquals(now, client))
                {
                    // In-flight calls hold their own reference; dispose after they had time to finish.
                    _ = DisposeLaterAsync(client, time);
                }
            }
        }
    }

    private static async Task DisposeLaterAsync(ProviderClient client, TimeProvider time)
    {
        await Task.Delay(TimeSpan.FromMinutes(10), time);
        client.Dispose();
    }

    private static bool SameProvider(ProviderConfig a, ProviderConfig b) =>
        a with { Headers = b.Headers } == b && a.Headers.Count == b.Headers.Count && a.Headers.All(kv => b.Headers.TryGetValue(kv.Key, out var v) && v == kv.Value);

    public void Dispose()
    {
        foreach (var p in _snapshot.Providers.Values) p.Dispose();
    }

    private sealed record Snapshot(FrozenDictionary<string, RoutableModel> Models, FrozenDictionary<string, ProviderClient> Providers, GatewaySettings Settings);
}
