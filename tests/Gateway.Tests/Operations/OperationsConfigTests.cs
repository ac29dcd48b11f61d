using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Gateway.Configuration;
using Microsoft.Extensions.Configuration;

namespace LlmMarketplace.Gateway.Tests.Operations;

/// <summary>The <c>cohere</c> provider type, the model kinds and the unit prices in the configuration.</summary>
public sealed class OperationsConfigTests
{
    private static GatewayConfig Read(Dictionary<string, string?> settings, out string errors)
    {
        var found = new ValidationErrors();
        var config = GatewayConfigReader.Read(new ConfigurationBuilder().AddInMemoryCollection(settings).Build(), found);
        errors = found.ToString();
        return config;
    }

    [Fact]
    public void A_cohere_provider_defaults_to_cohere_and_unit_prices_are_read()
    {
        var config = Read(new()
        {
            ["Providers:0:Name"] = "cohere",
            ["Providers:0:Type"] = "cohere",
            ["Models:0:Name"] = "rerank",
            ["Models:0:Kind"] = "rerank",
            ["Models:0:Deployments:0:Provider"] = "cohere",
            ["Models:0:Deployments:0:Model"] = "rerank-v3.5",
            ["Models:0:Deployments:0:PerSearchUnit"] = "0.002",
            ["Models:1:Name"] = "speech",
            ["Models:1:Kind"] = "speech",
            ["Providers:1:Name"] = "openai",
            ["Providers:1:BaseUrl"] = "http://127.0.0.1:1/v1",
            ["Models:1:Deployments:0:Provider"] = "openai",
            ["Models:1:Deployments:0:PerMCharacters"] = "15",
            ["Models:1:Deployments:0:PerImage"] = "0.04",
            ["Models:1:Deployments:0:PerMinute"] = "0.006",
        }, out var errors);

        Assert.Equal("", errors);
        var cohere = config.Providers.Single(static p => p.Name == "cohere");
        Assert.Equal(ProviderType.Cohere, cohere.Type);
        Assert.Equal(new Uri("https://api.cohere.com"), cohere.BaseUrl);
        Assert.Equal(ModelKind.Rerank, config.Models[0].Kind);
        Assert.Equal(0.002m, config.Models[0].Deployments[0].Pricing.PerSearchUnit);
        var speech = config.Models[1].Deployments[0].Pricing;
        Assert.Equal(ModelKind.Speech, config.Models[1].Kind);
        Assert.Equal((15m, 0.04m, 0.006m), (speech.PerMCharacters, speech.PerImage, speech.PerMinute));
        Assert.False(speech.IsFree);
    }

    [Fact]
    public void A_kind_on_a_provider_without_its_operation_and_a_negative_unit_price_are_refused_with_their_paths()
    {
        Read(new()
        {
            ["Providers:0:Name"] = "claude",
            ["Providers:0:Type"] = "anthropic",
            ["Providers:0:BaseUrl"] = "http://127.0.0.1:1",
            ["Providers:1:Name"] = "cohere",
            ["Providers:1:Type"] = "cohere",
            ["Models:0:Name"] = "rerank-on-claude",
            ["Models:0:Kind"] = "rerank",
            ["Models:0:Deployments:0:Provider"] = "claude",
            ["Models:1:Name"] = "images-on-cohere",
            ["Models:1:Kind"] = "image",
            ["Models:1:Deployments:0:Provider"] = "cohere",
            ["Models:1:Deployments:0:PerImage"] = "-1",
            ["Models:2:Name"] = "odd",
            ["Models:2:Kind"] = "video",
            ["Models:2:Deployments:0:Provider"] = "cohere",
        }, out var errors);

        Assert.Contains("Models[0].Deployments[0].Provider: a rerank model needs a provider of type cohere or openai", errors);
        Assert.Contains("Models[1].Deployments[0].Provider: an image model needs a provider of type openai", errors);
        Assert.Contains("Models[1].Deployments[0].PerImage", errors);
        Assert.Contains("Models[2].Kind: 'video' is not one of: chat, embedding, rerank, moderation, image, transcription, speech", errors);
    }
}
