using LlmMarketplace.Gateway.Configuration;
using Microsoft.Extensions.Primitives;

namespace LlmMarketplace.Gateway.Routing;

/// <summary>Providers and models from outside the configuration file (for example catalog listings).</summary>
public sealed record ModelSourceSnapshot(IReadOnlyList<ProviderConfig> Providers, IReadOnlyList<ModelConfig> Models)
{
    public static readonly ModelSourceSnapshot Empty = new([], []);
}

/// <summary>
/// Adds models to the gateway beside the configured ones. The registry merges every registered source with the
/// configuration (configured names win) and applies again when a source's change token fires.
/// </summary>
public interface IModelSource
{
    ModelSourceSnapshot GetModels();

    IChangeToken GetChangeToken();
}

/// <summary>Merges configured models and providers with those of the model sources.</summary>
public static class ModelSources
{
    public static GatewayConfig Merge(GatewayConfig config, IEnumerable<IModelSource> sources)
    {
        var providers = config.Providers.ToList();
        var models = config.Models.ToList();
        var providerNames = providers.Select(static p => p.Name).ToHashSet(StringComparer.Ordinal);
        var modelNames = models.Select(static m => m.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var source in sources)
        {
            var snapshot = source.GetModels();
            foreach (var p in snapshot.Providers)
            {
                if (providerNames.Add(p.Name)) providers.Add(p);
            }
            foreach (var m in snapshot.Models)
            {
                if (modelNames.Add(m.Name)) models.Add(m);
            }
        }
        return config with { Providers = providers, Models = models };
    }
}
