using LlmMarketplace.BuildingBlocks.Secrets;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Gateway.Providers;
using Microsoft.Extensions.Configuration;

namespace LlmMarketplace.Gateway.Configuration;

/// <summary>What a provider's type adds to its settings: a default base URL, AWS keys, Vertex's project and credentials.</summary>
internal sealed record ProviderTypeSettings(Uri? DefaultBaseUrl, AwsKeys? Aws, VertexSettings? Vertex)
{
    /// <summary>The settings only some types take, with the types that take them.</summary>
    private static readonly (string Key, ProviderType Type)[] TypeOnly =
    [
        ("AccessKeyId", ProviderType.Bedrock),
        ("SecretAccessKey", ProviderType.Bedrock),
        ("SessionToken", ProviderType.Bedrock),
        ("Project", ProviderType.Vertex),
        ("Location", ProviderType.Vertex),
        ("CredentialsFile", ProviderType.Vertex),
        ("Credentials", ProviderType.Vertex),
    ];

    /// <summary>Reads and checks the type's own settings of the provider at <paramref name="path"/>, adding every problem to <paramref name="errors"/>.</summary>
    public static ProviderTypeSettings Read(IConfigurationSection item, string path, ProviderType type, ValidationErrors errors, bool resolveSecrets)
    {
        foreach (var (key, owner) in TypeOnly)
        {
            if (owner != type && !string.IsNullOrEmpty(item[key]))
            {
                errors.Add($"{path}.{key}", $"applies to providers of type {owner.ToString().ToLowerInvariant()} only");
            }
        }
        if (OpenAIPresets.TryGet(type, out var preset))
        {
            if (preset.ApiKeyRequired && string.IsNullOrWhiteSpace(item["ApiKey"]))
            {
                errors.Add($"{path}.ApiKey", $"is required for {preset.Name} ('env:NAME' or 'file:PATH')");
            }
            return new ProviderTypeSettings(preset.DefaultBaseUrl, null, null);
        }
        return type switch
        {
            ProviderType.Bedrock => ReadBedrock(item, path, errors, resolveSecrets),
            ProviderType.Vertex => ReadVertex(item, path, errors, resolveSecrets),
            _ => new ProviderTypeSettings(null, null, null),
        };
    }

    private static ProviderTypeSettings ReadBedrock(IConfigurationSection item, string path, ValidationErrors errors, bool resolveSecrets)
    {
        var region = item["Region"];
        Uri? baseUrl = null;
        if (string.IsNullOrWhiteSpace(region))
        {
            errors.Add($"{path}.Region", "is required for bedrock (the AWS region, for example us-east-1)");
        }
        else if (!Uri.TryCreate($"https://bedrock-runtime.{region}.amazonaws.com", UriKind.Absolute, out baseUrl) || region.Contains('/', StringComparison.Ordinal))
        {
            errors.Add($"{path}.Region", $"'{region}' is not an AWS region name");
            baseUrl = null;
        }
        if (!string.IsNullOrEmpty(item["ApiKey"]))
        {
            errors.Add($"{path}.ApiKey", "bedrock signs its requests with AWS keys: set AccessKeyId and SecretAccessKey (references), or neither for the default AWS credential chain");
        }
        var accessKey = Secret(item, "AccessKeyId", path, errors, resolveSecrets);
        var secretKey = Secret(item, "SecretAccessKey", path, errors, resolveSecrets);
        var token = Secret(item, "SessionToken", path, errors, resolveSecrets);
        var hasAccess = !string.IsNullOrEmpty(item["AccessKeyId"]);
        var hasSecret = !string.IsNullOrEmpty(item["SecretAccessKey"]);
        if (hasAccess != hasSecret)
        {
            errors.Add($"{path}.{(hasAccess ? "SecretAccessKey" : "AccessKeyId")}", "AccessKeyId and SecretAccessKey go together: set both, or neither for the default AWS credential chain");
        }
        else if (!hasAccess && !string.IsNullOrEmpty(item["SessionToken"]))
        {
            errors.Add($"{path}.SessionToken", "a session token needs AccessKeyId and SecretAccessKey");
        }
        var keys = accessKey is not null && secretKey is not null ? new AwsKeys(accessKey, secretKey, token) : null;
        return new ProviderTypeSettings(baseUrl, keys, null);
    }

    private static ProviderTypeSettings ReadVertex(IConfigurationSection item, string path, ValidationErrors errors, bool resolveSecrets)
    {
        var project = item["Project"];
        var location = item["Location"];
        if (string.IsNullOrWhiteSpace(project)) errors.Add($"{path}.Project", "is required for vertex (the Google Cloud project id)");
        if (string.IsNullOrWhiteSpace(location)) errors.Add($"{path}.Location", "is required for vertex (for example us-central1, europe-west4 or global)");
        if (!string.IsNullOrEmpty(item["ApiKey"]))
        {
            errors.Add($"{path}.ApiKey", "vertex authenticates with Google credentials: set CredentialsFile or Credentials, or neither for Application Default Credentials");
        }
        Uri? baseUrl = null;
        if (!string.IsNullOrWhiteSpace(location))
        {
            var host = location == "global" ? "aiplatform.googleapis.com" : $"{location}-aiplatform.googleapis.com";
            if (!Uri.TryCreate("https://" + host, UriKind.Absolute, out baseUrl) || location.Contains('/', StringComparison.Ordinal))
            {
                errors.Add($"{path}.Location", $"'{location}' is not a Google Cloud location");
                baseUrl = null;
            }
        }
        string? json = null;
        var file = item["CredentialsFile"];
        var reference = item["Credentials"];
        if (!string.IsNullOrEmpty(file) && !string.IsNullOrEmpty(reference))
        {
            errors.Add($"{path}.Credentials", "set CredentialsFile or Credentials, not both");
        }
        else if (!string.IsNullOrEmpty(file))
        {
            if (resolveSecrets)
            {
                if (!File.Exists(file)) errors.Add($"{path}.CredentialsFile", $"the key file '{file}' does not exist");
                else json = File.ReadAllText(file);
            }
        }
        else if (!string.IsNullOrEmpty(reference))
        {
            json = Secret(item, "Credentials", path, errors, resolveSecrets);
        }
        if (json is not null)
        {
            try
            {
                _ = Providers.Vertex.GoogleAuthHandler.CredentialType(json);
            }
            catch (System.Text.Json.JsonException)
            {
                errors.Add($"{path}.{(string.IsNullOrEmpty(file) ? "Credentials" : "CredentialsFile")}", "is not a Google credentials JSON document (a service-account key file)");
                json = null;
            }
        }
        var settings = string.IsNullOrWhiteSpace(project) || string.IsNullOrWhiteSpace(location) ? null : new VertexSettings(project, location, json);
        return new ProviderTypeSettings(baseUrl, null, settings);
    }

    private static string? Secret(IConfigurationSection item, string key, string path, ValidationErrors errors, bool resolveSecrets)
    {
        var raw = item[key];
        if (string.IsNullOrEmpty(raw)) return null;
        if (!SecretReference.IsReference(raw))
        {
            errors.Add($"{path}.{key}", "secrets must be references ('env:NAME' or 'file:PATH'), never literal values");
            return null;
        }
        if (!resolveSecrets) return null;
        if (SecretReference.TryResolve(raw, out var secret, out var error)) return secret;
        errors.Add($"{path}.{key}", error!);
        return null;
    }
}
