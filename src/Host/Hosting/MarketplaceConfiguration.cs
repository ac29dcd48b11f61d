using LlmMarketplace.BuildingBlocks.Validation;
using Microsoft.Extensions.Configuration;

namespace LlmMarketplace.Host.Hosting;

/// <summary>Builds the configuration: the config file (JSON or YAML), then <c>LLMM__SECTION__KEY</c> environment variables, then overrides.</summary>
public static class MarketplaceConfiguration
{
    public const string EnvironmentPrefix = "LLMM__";
    public const string MasterKeyVariable = "LLMM_MASTER_KEY";

    public static void Apply(IConfigurationBuilder configuration, HostSettings settings)
    {
        if (configuration is IConfigurationManager manager)
        {
            manager.Sources.Clear();
        }
        if (settings.ConfigFile is { } file)
        {
            var path = Path.GetFullPath(file);
            if (!File.Exists(path))
            {
                var errors = new ValidationErrors();
                errors.Add("--config", $"the file '{file}' does not exist");
                throw new InvalidConfigurationException(errors);
            }
            var extension = Path.GetExtension(path).ToLowerInvariant();
            switch (extension)
            {
                case ".yaml" or ".yml":
                    configuration.AddYamlFile(path, optional: false, reloadOnChange: true);
                    break;
                case ".json":
                    configuration.AddJsonFile(path, optional: false, reloadOnChange: true);
                    break;
                default:
                    var errors = new ValidationErrors();
                    errors.Add("--config", $"'{file}' must be a .json, .yaml or .yml file");
                    throw new InvalidConfigurationException(errors);
            }
        }
        configuration.AddEnvironmentVariables(EnvironmentPrefix);
        var overrides = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (settings.DataDirectory is { } data) overrides["Storage:DataDirectory"] = data;
        if (settings.Overrides is { } extra)
        {
            foreach (var (k, v) in extra) overrides[k] = v;
        }
        configuration.AddInMemoryCollection(overrides);
    }
}
