using Microsoft.Extensions.Configuration;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LlmMarketplace.Host.Hosting;

/// <summary>A YAML configuration file: mappings become sections, sequences become indexed children (<c>Models:0:Name</c>).</summary>
internal sealed class YamlConfigurationSource : FileConfigurationSource
{
    public override IConfigurationProvider Build(IConfigurationBuilder builder)
    {
        EnsureDefaults(builder);
        return new YamlConfigurationProvider(this);
    }
}

internal sealed class YamlConfigurationProvider(YamlConfigurationSource source) : FileConfigurationProvider(source)
{
    public override void Load(Stream stream)
    {
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var yaml = new YamlStream();
        try
        {
            using var reader = new StreamReader(stream);
            yaml.Load(reader);
        }
        catch (YamlException ex)
        {
            throw new InvalidDataException($"YAML syntax error at line {ex.Start.Line}, column {ex.Start.Column}: {ex.Message}", ex);
        }
        if (yaml.Documents.Count > 0)
        {
            Flatten(yaml.Documents[0].RootNode, null, data);
        }
        Data = data;
    }

    private static void Flatten(YamlNode node, string? path, Dictionary<string, string?> data)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                foreach (var (key, value) in mapping.Children)
                {
                    var name = ((YamlScalarNode)key).Value ?? "";
                    Flatten(value, path is null ? name : ConfigurationPath.Combine(path, name), data);
                }
                break;
            case YamlSequenceNode sequence:
                var i = 0;
                foreach (var item in sequence.Children)
                {
                    Flatten(item, ConfigurationPath.Combine(path ?? "", i.ToString(System.Globalization.CultureInfo.InvariantCulture)), data);
                    i++;
                }
                break;
            case YamlScalarNode scalar when path is not null:
                var isNull = scalar.Style == ScalarStyle.Plain && scalar.Value is null or "~" or "null" or "";
                data[path] = isNull ? null : scalar.Value;
                break;
        }
    }
}

internal static class YamlConfigurationExtensions
{
    public static IConfigurationBuilder AddYamlFile(this IConfigurationBuilder builder, string path, bool optional, bool reloadOnChange)
    {
        var source = new YamlConfigurationSource { Path = path, Optional = optional, ReloadOnChange = reloadOnChange };
        source.ResolveFileProvider();
        MarketplaceConfiguration.PollForChanges(source);
        return builder.Add(source);
    }
}
