using LlmMarketplace.BuildingBlocks.Validation;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.FileProviders;

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
                    configuration.AddJsonFile(source =>
                    {
                        source.Path = path;
                        source.Optional = false;
                        source.ReloadOnChange = true;
                        source.ResolveFileProvider();
                        PollForChanges(source);
                    });
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

    /// <summary>
    /// Watches the configuration file by polling its time stamp (every 4 seconds) instead of with a file system watcher.
    /// A watcher follows the file's whole directory tree, and the data directory is often under it (<c>--config
    /// ./llm-marketplace.yaml --data ./data</c>): every database write then woke the watcher's thread, which cost the
    /// gateway several percent of its CPU under load. Polling reads one file's status, whatever else changes.
    /// </summary>
    internal static void PollForChanges(FileConfigurationSource source)
    {
        if (source.FileProvider is PhysicalFileProvider files)
        {
            files.UsePollingFileWatcher = true;
            files.UseActivePolling = true;
        }
    }
}
