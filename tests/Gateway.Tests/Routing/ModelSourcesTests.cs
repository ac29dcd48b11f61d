using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Routing;
using Microsoft.Extensions.Primitives;

namespace LlmMarketplace.Gateway.Tests.Routing;

public sealed class ModelSourcesTests
{
    private sealed class Source(ModelSourceSnapshot snapshot) : IModelSource
    {
        public ModelSourceSnapshot GetModels() => snapshot;

        public IChangeToken GetChangeToken() => new CancellationChangeToken(CancellationToken.None);
    }

    private static ProviderConfig Provider(string name, string url) =>
        new(name, ProviderType.OpenAI, new Uri(url), null, null, new Dictionary<string, string>(), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), null);

    private static ModelConfig Model(string name, string provider) =>
        new(name, ModelKind.Chat, RoutingMode.Priority, [new DeploymentConfig(provider + "/m", provider, "m", Pricing.Free, 1, null)], null, null, null, 0.95, HybridWeights.Default, "test", 0);

    [Fact]
    public void Source_models_are_added_and_configured_names_win()
    {
        var config = new GatewayConfig([Provider("configured", "https://a.example/v1")], [Model("shared-name", "configured")], GatewaySettings.Default);
        var source = new Source(new ModelSourceSnapshot(
            [Provider("configured", "https://evil.example/v1"), Provider("catalog:x", "https://b.example/v1")],
            [Model("shared-name", "catalog:x"), Model("catalog-only", "catalog:x")]));

        var merged = ModelSources.Merge(config, [source]);

        Assert.Equal(["shared-name", "catalog-only"], merged.Models.Select(static m => m.Name).ToArray());
        Assert.Equal("configured", merged.Models[0].Deployments[0].Provider);
        Assert.Equal(new Uri("https://a.example/v1"), merged.Providers.Single(static p => p.Name == "configured").BaseUrl);
        Assert.Contains(merged.Providers, static p => p.Name == "catalog:x");
    }

    [Fact]
    public void The_registry_routes_merged_models_and_drops_them_when_the_source_does()
    {
        using var registry = new ModelRegistry(TimeProvider.System);
        var config = new GatewayConfig([Provider("configured", "https://a.example/v1")], [Model("configured-model", "configured")], GatewaySettings.Default);
        registry.Apply(ModelSources.Merge(config, [new Source(new ModelSourceSnapshot([Provider("catalog:x", "https://b.example/v1")], [Model("listed", "catalog:x")]))]));
        Assert.True(registry.TryGet("listed", out var listed));
        Assert.Equal("catalog:x", listed.Deployments[0].Provider.Config.Name);

        registry.Apply(ModelSources.Merge(config, [new Source(ModelSourceSnapshot.Empty)]));
        Assert.False(registry.TryGet("listed", out _));
        Assert.True(registry.TryGet("configured-model", out _));
    }
}
