namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>
/// Typed state a module keeps on one call between its stages (for example Access's admitted buckets between the limits
/// stage and metering), keyed by the state's type: a module's private type is invisible to the others.
/// </summary>
public sealed class GatewayCallFeatures
{
    private readonly Dictionary<Type, object> _features = [];

    public T? Get<T>() where T : class => _features.TryGetValue(typeof(T), out var value) ? (T)value : null;

    public void Set<T>(T feature) where T : class => _features[typeof(T)] = feature;
}
