using System.Collections.Concurrent;

namespace LlmMarketplace.Gateway.Routing;

/// <summary>Runtime levers other modules pull on the data plane (automated incident responses).</summary>
public interface IGatewayControl
{
    /// <summary>Opens the circuit of a deployment (by id) now, so routing fails over to the model's other deployments; false when unknown.</summary>
    bool OpenCircuit(string deploymentId);

    /// <summary>Whether every model served by a deployment has another deployment available now (opening its circuit fails over).</summary>
    bool HasFailover(string deploymentId);

    /// <summary>Turns the response cache on or off for a model regardless of its configuration; null returns it to its configuration.</summary>
    void SetCacheOverride(string model, bool? enabled);

    /// <summary>The cache override of a model, if any.</summary>
    bool? CacheOverride(string model);
}

internal sealed class GatewayControl(ModelRegistry registry) : IGatewayControl
{
    private readonly ConcurrentDictionary<string, bool> _cache = new(StringComparer.Ordinal);

    public bool OpenCircuit(string deploymentId)
    {
        if (!registry.TryGetHealth(deploymentId, out var health)) return false;
        health.Circuit.Trip();
        return true;
    }

    public bool HasFailover(string deploymentId)
    {
        var serving = registry.Models.Where(m => m.Deployments.Any(d => d.Id == deploymentId)).ToList();
        return serving.Count > 0 && serving.All(m => m.Deployments.Any(d => d.Id != deploymentId && d.Health.Circuit.IsAvailable));
    }

    public void SetCacheOverride(string model, bool? enabled)
    {
        if (enabled is { } on) _cache[model] = on;
        else _cache.TryRemove(model, out _);
    }

    public bool? CacheOverride(string model) => _cache.TryGetValue(model, out var on) ? on : null;
}
