using LlmMarketplace.BuildingBlocks.Configuration;
using LlmMarketplace.BuildingBlocks.Secrets;
using LlmMarketplace.Catalog.Import;

namespace LlmMarketplace.Catalog.Registry;

/// <summary>
/// A model registry the catalog mirrors (<c>Catalog:Sources:N</c>): where to read it, in which format, how often, and
/// the deployments every model it lists gets (none: the format's own, e.g. OpenRouter with <c>env:OPENROUTER_API_KEY</c>).
/// </summary>
public sealed record RegistrySource
{
    public string Name { get; init; } = "";

    /// <summary>An <c>http(s)://</c> URL or a file (a path or a <c>file://</c> URL).</summary>
    public string Url { get; init; } = "";

    /// <summary><c>openrouter</c> or <c>models.dev</c>.</summary>
    public string Format { get; init; } = "";

    /// <summary>Minutes between scheduled syncs; 0 syncs only on demand.</summary>
    public int IntervalMinutes { get; init; } = 60;

    /// <summary>Days from a model's disappearance from the source to the sunset announced on its deprecated versions.</summary>
    public int SunsetDays { get; init; } = 30;

    /// <summary>The deployments each listed model gets; each model is asked for by its id in the registry.</summary>
    public IReadOnlyList<SourceDeployment> Deployments { get; init; } = [];

    /// <summary>The <c>source</c> the catalog records on the listings this source created (only those are updated or deprecated by it).</summary>
    internal string ListingSource => "source:" + Name;

    public static readonly SettingsShape Shape = SettingsShape.Values("Name", "Url", "Format", "IntervalMinutes", "SunsetDays")
        .With(("Deployments", SettingsShape.ListOf(SettingsShape.Values("Provider", "Type", "BaseUrl", "ApiKey", "Region"))));

    /// <summary>Reads and checks every source; throws <see cref="InvalidConfigurationException"/> with all the problems at once.</summary>
    public static IReadOnlyList<RegistrySource> ReadAll(IConfigurationSection section)
    {
        var sources = new List<RegistrySource>();
        var errors = new ValidationErrors();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in section.GetChildren())
        {
            var path = $"Catalog:Sources:{s.Key}";
            var source = new RegistrySource
            {
                Name = s["Name"]?.Trim() ?? "",
                Url = s["Url"]?.Trim() ?? "",
                Format = s["Format"]?.Trim().ToLowerInvariant() ?? "",
                IntervalMinutes = s.GetValue("IntervalMinutes", 60),
                SunsetDays = s.GetValue("SunsetDays", 30),
                Deployments = [.. s.GetSection("Deployments").GetChildren().Select(static d => new SourceDeployment(
                    d["Provider"]?.Trim() ?? "", d["Type"]?.Trim(), d["BaseUrl"]?.Trim() ?? "", d["ApiKey"]?.Trim(), d["Region"]?.Trim()))],
            };
            if (source.Name.Length == 0 || !source.Name.All(static c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                errors.Add(path + ":Name", "set a name of letters, digits, '-', '_' or '.' (it is used in the sync endpoint's path)");
            }
            else if (!names.Add(source.Name))
            {
                errors.Add(path + ":Name", $"the source '{source.Name}' is configured twice");
            }
            if (source.Url.Length == 0) errors.Add(path + ":Url", "set the registry's http(s) URL or a file path");
            else if (Uri.TryCreate(source.Url, UriKind.Absolute, out var url) && url.Scheme is "http" or "https" && url.UserInfo.Length > 0)
            {
                errors.Add(path + ":Url", "must not carry credentials");
            }
            if (source.Format is not (CatalogImporter.OpenRouterFormat or CatalogImporter.ModelsDevFormat))
            {
                errors.Add(path + ":Format", $"set '{CatalogImporter.OpenRouterFormat}' or '{CatalogImporter.ModelsDevFormat}'");
            }
            if (source.IntervalMinutes is < 0 or > 10_080) errors.Add(path + ":IntervalMinutes", "must be 0 (on demand only) to 10080 (a week)");
            if (source.SunsetDays is < 0 or > 3650) errors.Add(path + ":SunsetDays", "must be 0 to 3650");
            for (var i = 0; i < source.Deployments.Count; i++)
            {
                var d = source.Deployments[i];
                var dpath = $"{path}:Deployments:{i}";
                if (d.Provider.Length == 0) errors.Add(dpath + ":Provider", "set the provider's name");
                if (!Uri.TryCreate(d.BaseUrl, UriKind.Absolute, out var baseUrl) || baseUrl.Scheme is not ("http" or "https"))
                {
                    errors.Add(dpath + ":BaseUrl", "set the provider's http(s) base URL");
                }
                if (d.ApiKey is { Length: > 0 } key && SecretReference.StoredSecretName(key) is null && !SecretReference.IsReference(key))
                {
                    errors.Add(dpath + ":ApiKey", "must be a reference ('secret:NAME' or 'env:NAME'), never the key itself");
                }
            }
            sources.Add(source);
        }
        if (!errors.IsEmpty) throw new InvalidConfigurationException(errors);
        return sources;
    }
}

/// <summary>A deployment a source gives each of its models; <see cref="ApiKey"/> is a reference (<c>secret:NAME</c>, <c>env:NAME</c>).</summary>
public sealed record SourceDeployment(string Provider, string? Type, string BaseUrl, string? ApiKey, string? Region);
