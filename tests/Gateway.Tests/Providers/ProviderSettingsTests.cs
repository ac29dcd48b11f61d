using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Gateway.Configuration;
using Microsoft.Extensions.Configuration;

namespace LlmMarketplace.Gateway.Tests.Providers;

/// <summary>The settings of bedrock and vertex providers: required ones, references only, defaults, every problem at once.</summary>
public sealed class ProviderSettingsTests
{
    private static (GatewayConfig Config, string Errors) Read(Dictionary<string, string?> settings)
    {
        var errors = new ValidationErrors();
        var config = GatewayConfigReader.Read(new ConfigurationBuilder().AddInMemoryCollection(settings).Build(), errors);
        return (config, errors.ToString());
    }

    [Fact]
    public void Bedrock_needs_a_region_references_and_both_keys_and_reports_every_problem()
    {
        var (_, errors) = Read(new()
        {
            ["Providers:0:Name"] = "aws",
            ["Providers:0:Type"] = "bedrock",
            ["Providers:0:AccessKeyId"] = "AKIAEXAMPLE",
            ["Providers:0:SessionToken"] = "env:LLMM_TEST_UNSET_TOKEN",
            ["Providers:0:ApiKey"] = "env:LLMM_TEST_UNSET_KEY",
            ["Providers:0:Project"] = "p",
        });

        Assert.Contains("Providers[0].Region: is required for bedrock", errors, StringComparison.Ordinal);
        Assert.Contains("Providers[0].AccessKeyId: secrets must be references", errors, StringComparison.Ordinal);
        Assert.Contains("Providers[0].SecretAccessKey: AccessKeyId and SecretAccessKey go together", errors, StringComparison.Ordinal);
        Assert.Contains("Providers[0].ApiKey: bedrock signs its requests with AWS keys", errors, StringComparison.Ordinal);
        Assert.Contains("Providers[0].Project: applies to providers of type vertex only", errors, StringComparison.Ordinal);
        Assert.DoesNotContain("BaseUrl", errors, StringComparison.Ordinal);
    }

    [Fact]
    public void Bedrock_without_keys_uses_the_default_chain_and_its_regional_endpoint()
    {
        var (config, errors) = Read(new()
        {
            ["Providers:0:Name"] = "aws",
            ["Providers:0:Type"] = "bedrock",
            ["Providers:0:Region"] = "us-west-2",
        });

        Assert.Equal("", errors);
        var provider = Assert.Single(config.Providers);
        Assert.Equal(new Uri("https://bedrock-runtime.us-west-2.amazonaws.com"), provider.BaseUrl);
        Assert.Null(provider.Aws);
    }

    [Fact]
    public void Vertex_needs_project_and_location_and_builds_its_regional_or_global_endpoint()
    {
        var (config, errors) = Read(new()
        {
            ["Providers:0:Name"] = "broken",
            ["Providers:0:Type"] = "vertex",
            ["Providers:0:Credentials"] = "{\"type\":\"service_account\"}",
            ["Providers:0:Region"] = "eu",
            ["Providers:1:Name"] = "regional",
            ["Providers:1:Type"] = "vertex",
            ["Providers:1:Project"] = "p1",
            ["Providers:1:Location"] = "europe-west4",
            ["Providers:2:Name"] = "global",
            ["Providers:2:Type"] = "vertex",
            ["Providers:2:Project"] = "p1",
            ["Providers:2:Location"] = "global",
            ["Providers:3:Name"] = "nokey",
            ["Providers:3:Type"] = "vertex",
            ["Providers:3:Project"] = "p1",
            ["Providers:3:Location"] = "us-east5",
            ["Providers:3:CredentialsFile"] = "/nonexistent/key.json",
        });

        Assert.Contains("Providers[0].Project: is required for vertex", errors, StringComparison.Ordinal);
        Assert.Contains("Providers[0].Location: is required for vertex", errors, StringComparison.Ordinal);
        Assert.Contains("Providers[0].Credentials: secrets must be references", errors, StringComparison.Ordinal);
        Assert.Contains("Providers[3].CredentialsFile: the key file '/nonexistent/key.json' does not exist", errors, StringComparison.Ordinal);
        Assert.Equal(new Uri("https://europe-west4-aiplatform.googleapis.com"), config.Providers.Single(static p => p.Name == "regional").BaseUrl);
        Assert.Equal(new Uri("https://aiplatform.googleapis.com"), config.Providers.Single(static p => p.Name == "global").BaseUrl);
        Assert.Null(config.Providers.Single(static p => p.Name == "global").Vertex!.CredentialsJson);
    }

    [Fact]
    public void A_misspelled_provider_setting_is_refused_with_a_suggestion()
    {
        var (_, errors) = Read(new()
        {
            ["Providers:0:Name"] = "gcp",
            ["Providers:0:Type"] = "vertex",
            ["Providers:0:Projet"] = "p1",
            ["Providers:0:Location"] = "global",
        });

        Assert.Contains("Providers[0].Projet", errors, StringComparison.Ordinal);
        Assert.Contains("Project", errors, StringComparison.Ordinal);
    }

    [Fact]
    public void Embedding_models_cannot_be_deployed_on_bedrock_or_vertex()
    {
        var (_, errors) = Read(new()
        {
            ["Providers:0:Name"] = "aws",
            ["Providers:0:Type"] = "bedrock",
            ["Providers:0:Region"] = "us-east-1",
            ["Models:0:Name"] = "titan",
            ["Models:0:Kind"] = "embedding",
            ["Models:0:Deployments:0:Provider"] = "aws",
            ["Models:0:Deployments:0:Model"] = "amazon.titan-embed-text-v2:0",
        });

        Assert.Contains("Models[0].Deployments[0].Provider: embeddings through a bedrock provider are not supported", errors, StringComparison.Ordinal);
    }
}
