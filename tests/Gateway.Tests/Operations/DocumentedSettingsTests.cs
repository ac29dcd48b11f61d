using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Providers;

namespace LlmMarketplace.Gateway.Tests.Operations;

/// <summary>
/// The configuration reference and the README say what the code reads: a row for every provider type, every model kind
/// and every price setting a deployment takes. A type, kind or price added without its documentation fails here.
/// </summary>
public sealed class DocumentedSettingsTests
{
    private static readonly string[] ConfigurationDoc = File.ReadAllLines(Path.Combine(TestPaths.RepositoryRoot, "docs", "configuration.md"));
    private static readonly string[] Readme = File.ReadAllLines(Path.Combine(TestPaths.RepositoryRoot, "README.md"));

    /// <summary>A provider type as the configuration spells it.</summary>
    private static string ConfigName(ProviderType type) =>
        OpenAIPresets.All.FirstOrDefault(p => p.Type == type)?.Name ?? (type == ProviderType.AzureOpenAI ? "azure-openai" : type.ToString().ToLowerInvariant());

    private static bool HasRow(string[] lines, string firstCell) => lines.Any(l => l.StartsWith($"| `{firstCell}` |", StringComparison.Ordinal));

    public static TheoryData<ProviderType> ProviderTypes => [.. Enum.GetValues<ProviderType>()];

    [Theory]
    [MemberData(nameof(ProviderTypes))]
    public void Every_provider_type_has_a_row_in_the_configuration_reference_and_the_readme(ProviderType type)
    {
        var name = ConfigName(type);
        Assert.True(HasRow(ConfigurationDoc, name), $"docs/configuration.md has no table row for the provider type '{name}'");
        Assert.True(HasRow(Readme, name), $"README.md has no table row for the provider type '{name}'");
    }

    [Fact]
    public void Every_model_kind_is_documented_with_its_provider_types_and_endpoint()
    {
        var kindRow = Assert.Single(ConfigurationDoc, static l => l.StartsWith("| `Kind` |", StringComparison.Ordinal));
        foreach (var kind in Enum.GetValues<ModelKind>())
        {
            var name = kind.ToString().ToLowerInvariant();
            Assert.Contains($"`{name}`", kindRow, StringComparison.Ordinal);
            Assert.True(ConfigurationDoc.Any(l => l.StartsWith("| `", StringComparison.Ordinal) && l.Contains($"`{name}`", StringComparison.Ordinal) && l != kindRow),
                $"docs/configuration.md does not say which provider types serve Kind: {name}");
            Assert.True(Readme.Any(l => l.StartsWith("| `POST /v1/", StringComparison.Ordinal) && l.Contains($"| `{name}` |", StringComparison.Ordinal)),
                $"README.md's operations table has no row for Kind: {name}");
        }
    }

    [Fact]
    public void Every_price_a_deployment_takes_has_a_row_in_the_configuration_reference()
    {
        var prices = typeof(Pricing).GetProperties().Select(static p => p.Name).Where(static n => n.StartsWith("Per", StringComparison.Ordinal) || n.EndsWith("PerMTok", StringComparison.Ordinal));
        foreach (var price in prices)
        {
            Assert.True(ConfigurationDoc.Any(l => l.StartsWith("| `", StringComparison.Ordinal) && l.Split('|')[1].Contains($"`{price}`", StringComparison.Ordinal)),
                $"docs/configuration.md has no row for the deployment setting {price}");
        }
    }
}
