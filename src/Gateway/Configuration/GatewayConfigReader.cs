using System.Globalization;
using System.Numerics;
using LlmMarketplace.BuildingBlocks.Configuration;
using LlmMarketplace.BuildingBlocks.Embeddings;
using LlmMarketplace.BuildingBlocks.Secrets;
using LlmMarketplace.BuildingBlocks.Validation;
using Microsoft.Extensions.Configuration;

namespace LlmMarketplace.Gateway.Configuration;

/// <summary>
/// Reads and validates the <c>Providers</c>, <c>Models</c> and <c>Gateway</c> sections, reporting every
/// problem with the path of the setting (for example <c>Models[0].Deployments[1].Provider</c>).
/// </summary>
public static class GatewayConfigReader
{
    /// <summary>The settings each provider may have.</summary>
    public static readonly SettingsShape ProvidersShape = SettingsShape.ListOf(
        SettingsShape.Values("Name", "Type", "BaseUrl", "ApiKey", "ApiVersion", "ConnectTimeoutSeconds", "FirstByteTimeoutSeconds", "TotalTimeoutSeconds", "Region", "Responses",
                // bedrock, vertex (ProviderTypeSettings)
                "AccessKeyId", "SecretAccessKey", "SessionToken", "Project", "Location", "CredentialsFile", "Credentials")
            .With(("Headers", SettingsShape.MapOf(SettingsShape.Value))));

    /// <summary>The settings each model, and each of its deployments, may have.</summary>
    public static readonly SettingsShape ModelsShape = SettingsShape.ListOf(
        SettingsShape.Values("Name", "Kind", "Routing", "ContextWindow", "MaxOutputTokens", "Cache", "QualityTarget", "Cascade", "OwnedBy")
            .With(
                // true/false, or {Enabled, Threshold}
                ("SemanticCache", SettingsShape.Values("Enabled", "Threshold")),
                ("HybridWeights", SettingsShape.Values("Cost", "Performance", "Reliability")),
                ("Deployments", SettingsShape.ListOf(SettingsShape.Values("Provider", "Model", "InputPerMTok", "OutputPerMTok", "CachedInputPerMTok", "CacheWritePerMTok", "PerRequest", "PerSearchUnit", "PerImage", "PerMinute", "PerMCharacters", "Weight", "Region", "Id")))));

    /// <summary>The <c>Gateway</c> section's settings.</summary>
    public static readonly SettingsShape GatewayShape = SettingsShape.Values("ConnectTimeoutSeconds", "FirstByteTimeoutSeconds", "TotalTimeoutSeconds", "MaxRequestBodyBytes", "LatencyEwmaAlpha")
        .With(
            ("Retry", SettingsShape.Values("MaxAttemptsPerDeployment", "BaseDelayMs", "MaxDelayMs", "MaxRetryAfterSeconds", "MaxTotalAttempts")),
            ("CircuitBreaker", SettingsShape.Values("FailureThreshold", "BreakDurationSeconds", "HalfOpenProbes")),
            ("Cache", SettingsShape.Values("Enabled", "MaxSizeMb", "DefaultTtlSeconds", "MaxTtlSeconds")
                .With(("Semantic", SettingsShape.Values("Enabled", "EmbeddingModel", "Threshold", "Scope", "MaxEntries")))));

    /// <summary>The address requests to a <c>local</c> provider carry; they never leave the process.</summary>
    internal static readonly Uri LocalProviderUrl = new("http://local.invalid/v1");

    /// <summary>Cohere's API, the base of <c>/v2/chat</c>, <c>/v2/embed</c> and <c>/v2/rerank</c>.</summary>
    internal static readonly Uri CohereDefaultUrl = new("https://api.cohere.com");

    public static GatewayConfig Read(IConfiguration configuration, ValidationErrors errors, bool resolveSecrets = true)
    {
        // Unknown settings first: the same check as at start, so a reload with a misspelled key is refused too.
        GatewayShape.Check(configuration.GetSection("Gateway"), "Gateway", errors);
        ProvidersShape.Check(configuration.GetSection("Providers"), "Providers", errors);
        ModelsShape.Check(configuration.GetSection("Models"), "Models", errors);
        var settings = ReadSettings(configuration.GetSection("Gateway"), errors);
        var providers = ReadProviders(configuration.GetSection("Providers"), settings, errors, resolveSecrets);
        var models = ReadModels(configuration.GetSection("Models"), providers, errors);
        if (settings.Cache.Semantic is { Enabled: true, EmbeddingModel: { } embeddingModel }
            && !models.Any(m => m.Name == embeddingModel && m.Kind == ModelKind.Embedding))
        {
            errors.Add("Gateway.Cache.Semantic.EmbeddingModel", $"'{embeddingModel}' is not an embedding model in Models (add one with Kind: embedding, for example served by a 'local' provider with Model: {LocalEmbeddingModel.MiniLmL6V2})");
        }
        return new GatewayConfig(providers, models, settings);
    }

    private static GatewaySettings ReadSettings(IConfigurationSection section, ValidationErrors errors)
    {
        var d = GatewaySettings.Default;
        if (!section.Exists())
        {
            return d;
        }
        var retry = section.GetSection("Retry");
        var breaker = section.GetSection("CircuitBreaker");
        var cache = section.GetSection("Cache");
        var semantic = cache.GetSection("Semantic");
        var semanticEnabled = Bool(semantic, "Enabled", "Gateway.Cache.Semantic", d.Cache.Semantic.Enabled, errors);
        if (semanticEnabled && string.IsNullOrWhiteSpace(semantic["EmbeddingModel"]))
        {
            errors.Add("Gateway.Cache.Semantic.EmbeddingModel", "is required when the semantic cache is enabled: name a configured embedding model (for example one served by a 'local' provider)");
        }

        return new GatewaySettings(
            Seconds(section, "ConnectTimeoutSeconds", "Gateway", d.ConnectTimeout, errors),
            Seconds(section, "FirstByteTimeoutSeconds", "Gateway", d.FirstByteTimeout, errors),
            Seconds(section, "TotalTimeoutSeconds", "Gateway", d.TotalTimeout, errors),
            Long(section, "MaxRequestBodyBytes", "Gateway", d.MaxRequestBodyBytes, 1024, long.MaxValue, errors),
            new RetrySettings(
                Int(retry, "MaxAttemptsPerDeployment", "Gateway.Retry", d.Retry.MaxAttemptsPerDeployment, 1, 10, errors),
                TimeSpan.FromMilliseconds(Double(retry, "BaseDelayMs", "Gateway.Retry", d.Retry.BaseDelay.TotalMilliseconds, 0, 60_000, errors)),
                TimeSpan.FromMilliseconds(Double(retry, "MaxDelayMs", "Gateway.Retry", d.Retry.MaxDelay.TotalMilliseconds, 0, 600_000, errors)),
                TimeSpan.FromSeconds(Double(retry, "MaxRetryAfterSeconds", "Gateway.Retry", d.Retry.MaxRetryAfter.TotalSeconds, 0, 3600, errors)),
                Int(retry, "MaxTotalAttempts", "Gateway.Retry", d.Retry.MaxTotalAttempts, 1, 50, errors)),
            new CircuitBreakerSettings(
                Int(breaker, "FailureThreshold", "Gateway.CircuitBreaker", d.CircuitBreaker.FailureThreshold, 1, 1000, errors),
                Seconds(breaker, "BreakDurationSeconds", "Gateway.CircuitBreaker", d.CircuitBreaker.BreakDuration, errors),
                Int(breaker, "HalfOpenProbes", "Gateway.CircuitBreaker", d.CircuitBreaker.HalfOpenProbes, 1, 100, errors)),
            new CacheSettings(
                Bool(cache, "Enabled", "Gateway.Cache", d.Cache.Enabled, errors),
                (long)(Double(cache, "MaxSizeMb", "Gateway.Cache", d.Cache.MaxBytes / 1024.0 / 1024.0, 0.001, 1_000_000, errors) * 1024 * 1024),
                Seconds(cache, "DefaultTtlSeconds", "Gateway.Cache", d.Cache.DefaultTtl, errors),
                Seconds(cache, "MaxTtlSeconds", "Gateway.Cache", d.Cache.MaxTtl, errors))
            {
                Semantic = new SemanticCacheSettings(
                    semanticEnabled,
                    semantic["EmbeddingModel"] is { Length: > 0 } embeddingModel ? embeddingModel : null,
                    Double(semantic, "Threshold", "Gateway.Cache.Semantic", d.Cache.Semantic.Threshold, 0.5, 1, errors),
                    ParseEnum<SemanticCacheScope>(semantic["Scope"] ?? "team", "Gateway.Cache.Semantic.Scope", errors),
                    Int(semantic, "MaxEntries", "Gateway.Cache.Semantic", d.Cache.Semantic.MaxEntries, 1, 10_000_000, errors)),
            },
            Double(section, "LatencyEwmaAlpha", "Gateway", d.LatencyEwmaAlpha, 0.001, 1, errors));
    }

    private static List<ProviderConfig> ReadProviders(IConfigurationSection section, GatewaySettings settings, ValidationErrors errors, bool resolveSecrets)
    {
        var result = new List<ProviderConfig>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (item, path) in Items(section, "Providers", errors))
        {
            var name = item["Name"];
            if (string.IsNullOrWhiteSpace(name))
            {
                errors.Add($"{path}.Name", "is required");
            }
            else if (!names.Add(name))
            {
                errors.Add($"{path}.Name", $"'{name}' is used by another provider; names must be unique");
            }

            var type = ParseEnum<ProviderType>(item["Type"] ?? "openai", $"{path}.Type", errors, ("azure-openai", ProviderType.AzureOpenAI), ("azure", ProviderType.AzureOpenAI));

            var typeSettings = ProviderTypeSettings.Read(item, path, type, errors, resolveSecrets);
            Uri? baseUrl = null;
            var rawUrl = item["BaseUrl"];
            if (string.IsNullOrWhiteSpace(rawUrl) && typeSettings.DefaultBaseUrl is { } defaultUrl)
            {
                baseUrl = defaultUrl;
            }
            else if (type == ProviderType.Local)
            {
                if (!string.IsNullOrWhiteSpace(rawUrl)) errors.Add($"{path}.BaseUrl", "a local provider runs its models in this process and takes no BaseUrl");
                if (!string.IsNullOrWhiteSpace(item["ApiKey"])) errors.Add($"{path}.ApiKey", "a local provider takes no ApiKey");
                baseUrl = LocalProviderUrl;
            }
            else if (string.IsNullOrWhiteSpace(rawUrl) && type == ProviderType.Cohere)
            {
                baseUrl = CohereDefaultUrl;
            }
            else if (string.IsNullOrWhiteSpace(rawUrl))
            {
                if (type is not (ProviderType.Bedrock or ProviderType.Vertex)) errors.Add($"{path}.BaseUrl", "is required");
            }
            else if (!Uri.TryCreate(rawUrl, UriKind.Absolute, out baseUrl) || (baseUrl.Scheme != Uri.UriSchemeHttp && baseUrl.Scheme != Uri.UriSchemeHttps))
            {
                errors.Add($"{path}.BaseUrl", $"'{rawUrl}' is not an absolute http or https URL");
                baseUrl = null;
            }
            else if (!string.IsNullOrEmpty(baseUrl.UserInfo))
            {
                errors.Add($"{path}.BaseUrl", "must not carry credentials; use ApiKey with an 'env:NAME' reference");
            }

            string? apiKey = null;
            var rawKey = item["ApiKey"];
            if (!string.IsNullOrEmpty(rawKey) && type != ProviderType.Local)
            {
                if (!SecretReference.IsReference(rawKey))
                {
                    errors.Add($"{path}.ApiKey", "secrets must be references ('env:NAME' or 'file:PATH'), never literal values");
                }
                else if (resolveSecrets)
                {
                    if (SecretReference.TryResolve(rawKey, out var secret, out var error)) apiKey = secret;
                    else errors.Add($"{path}.ApiKey", error!);
                }
            }

            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var header in item.GetSection("Headers").GetChildren())
            {
                var value = header.Value ?? "";
                if (SecretReference.IsReference(value) && resolveSecrets)
                {
                    if (SecretReference.TryResolve(value, out var secret, out var error)) value = secret!;
                    else errors.Add($"{path}.Headers.{header.Key}", error!);
                }
                headers[header.Key] = value;
            }

            if (type == ProviderType.AzureOpenAI && string.IsNullOrWhiteSpace(item["ApiVersion"]))
            {
                // Azure requires api-version; default to a GA version rather than failing.
            }

            var nativeResponses = false;
            switch (item["Responses"]?.Trim().ToLowerInvariant())
            {
                case null or "" or "translated":
                    break;
                case "native" when type == ProviderType.OpenAI:
                    nativeResponses = true;
                    break;
                case "native":
                    errors.Add($"{path}.Responses", "'native' applies to providers of type openai only.");
                    break;
                default:
                    errors.Add($"{path}.Responses", "must be 'native' or 'translated'.");
                    break;
            }

            if (name is null || baseUrl is null)
            {
                continue;
            }
            result.Add(new ProviderConfig(
                name,
                type,
                baseUrl,
                apiKey,
                item["ApiVersion"] ?? (type == ProviderType.AzureOpenAI ? "2024-10-21" : type == ProviderType.Anthropic ? "2023-06-01" : null),
                headers,
                Seconds(item, "ConnectTimeoutSeconds", path, settings.ConnectTimeout, errors),
                Seconds(item, "FirstByteTimeoutSeconds", path, settings.FirstByteTimeout, errors),
                Seconds(item, "TotalTimeoutSeconds", path, settings.TotalTimeout, errors),
                item["Region"]) { NativeResponses = nativeResponses, Aws = typeSettings.Aws, Vertex = typeSettings.Vertex });
        }
        return result;
    }

    private static List<ModelConfig> ReadModels(IConfigurationSection section, List<ProviderConfig> providers, ValidationErrors errors)
    {
        var result = new List<ModelConfig>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var providerNames = providers.ToDictionary(static p => p.Name, StringComparer.Ordinal);
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        foreach (var (item, path) in Items(section, "Models", errors))
        {
            var name = item["Name"];
            if (string.IsNullOrWhiteSpace(name))
            {
                errors.Add($"{path}.Name", "is required");
            }
            else if (!names.Add(name))
            {
                errors.Add($"{path}.Name", $"'{name}' is used by another model; names must be unique");
            }
            var kind = ParseEnum<ModelKind>(item["Kind"] ?? "chat", $"{path}.Kind", errors, ("embeddings", ModelKind.Embedding), ("reranker", ModelKind.Rerank), ("moderations", ModelKind.Moderation), ("images", ModelKind.Image));
            var routing = ParseEnum<RoutingMode>(item["Routing"] ?? "priority", $"{path}.Routing", errors);
            var hybridSection = item.GetSection("HybridWeights");
            var hybrid = new HybridWeights(
                Double(hybridSection, "Cost", $"{path}.HybridWeights", HybridWeights.Default.Cost, 0, 1000, errors),
                Double(hybridSection, "Performance", $"{path}.HybridWeights", HybridWeights.Default.Performance, 0, 1000, errors),
                Double(hybridSection, "Reliability", $"{path}.HybridWeights", HybridWeights.Default.Reliability, 0, 1000, errors));
            if (hybrid.Cost + hybrid.Performance + hybrid.Reliability <= 0)
            {
                errors.Add($"{path}.HybridWeights", "at least one weight must be positive");
            }

            var deployments = new List<DeploymentConfig>();
            var deploymentIds = new HashSet<string>(StringComparer.Ordinal);
            var deploymentsSection = item.GetSection("Deployments");
            if (!deploymentsSection.GetChildren().Any())
            {
                errors.Add($"{path}.Deployments", "at least one deployment is required");
            }
            foreach (var (dep, dpath) in Items(deploymentsSection, $"{path}.Deployments", errors))
            {
                var provider = dep["Provider"];
                ProviderConfig? providerConfig = null;
                if (string.IsNullOrWhiteSpace(provider))
                {
                    errors.Add($"{dpath}.Provider", "is required");
                }
                else if (!providerNames.TryGetValue(provider, out providerConfig))
                {
                    errors.Add($"{dpath}.Provider", $"'{provider}' is not a provider in the Providers section");
                }
                if (kind == ModelKind.Embedding && providerConfig?.Type == ProviderType.Anthropic)
                {
                    errors.Add($"{dpath}.Provider", "Anthropic has no embeddings API; an embedding model cannot be deployed on it");
                }
                if (providerConfig is not null && Providers.ProviderKinds.Refusal(providerConfig.Type, kind) is { } unsupported)
                {
                    errors.Add($"{dpath}.Provider", unsupported);
                }
                var upstream = dep["Model"] ?? name;
                if (providerConfig?.Type == ProviderType.Local)
                {
                    if (kind != ModelKind.Embedding)
                    {
                        errors.Add($"{dpath}.Provider", $"the local provider '{provider}' runs embedding models only; set Kind: embedding on this model or deploy it elsewhere");
                    }
                    else if (upstream is null || !LocalEmbeddingModel.IsKnown(upstream))
                    {
                        errors.Add($"{dpath}.Model", $"'{upstream}' is not a local model (known: {string.Join(", ", LocalEmbeddingModel.Known)})");
                    }
                }
                var pricing = new Pricing(
                    Money(dep, "InputPerMTok", dpath, 0, errors),
                    Money(dep, "OutputPerMTok", dpath, 0, errors),
                    dep["CachedInputPerMTok"] is null ? null : Money(dep, "CachedInputPerMTok", dpath, 0, errors),
                    dep["CacheWritePerMTok"] is null ? null : Money(dep, "CacheWritePerMTok", dpath, 0, errors),
                    Money(dep, "PerRequest", dpath, 0, errors))
                {
                    PerSearchUnit = Money(dep, "PerSearchUnit", dpath, 0, errors),
                    PerImage = Money(dep, "PerImage", dpath, 0, errors),
                    PerMinute = Money(dep, "PerMinute", dpath, 0, errors),
                    PerMCharacters = Money(dep, "PerMCharacters", dpath, 0, errors),
                };
                var weight = Double(dep, "Weight", dpath, 1, 0, 1_000_000, errors);
                var id = dep["Id"] ?? $"{provider}/{upstream}";
                if (!deploymentIds.Add(id))
                {
                    errors.Add($"{dpath}.Id", $"'{id}' is used by another deployment of this model; set a distinct Id");
                }
                if (provider is not null && upstream is not null)
                {
                    deployments.Add(new DeploymentConfig(id, provider, upstream, pricing, weight, dep["Region"] ?? providerConfig?.Region));
                }
            }
            if (routing == RoutingMode.Weighted && deployments.Count > 0 && deployments.All(static d => d.Weight <= 0))
            {
                errors.Add($"{path}.Deployments", "weighted routing needs at least one deployment with a positive Weight");
            }

            var contextWindow = item["ContextWindow"] is null ? (int?)null : Int(item, "ContextWindow", path, 0, 1, int.MaxValue, errors);
            var maxOutput = item["MaxOutputTokens"] is null ? (int?)null : Int(item, "MaxOutputTokens", path, 0, 1, int.MaxValue, errors);
            bool? cache = item["Cache"] is null ? null : Bool(item, "Cache", path, false, errors);
            var semanticSection = item.GetSection("SemanticCache");
            SemanticCacheOverride? semantic = null;
            if (semanticSection.Value is not null)
            {
                semantic = new SemanticCacheOverride(Bool(item, "SemanticCache", path, true, errors), null);
            }
            else if (semanticSection.Exists())
            {
                semantic = new SemanticCacheOverride(
                    semanticSection["Enabled"] is null ? null : Bool(semanticSection, "Enabled", $"{path}.SemanticCache", true, errors),
                    semanticSection["Threshold"] is null ? null : Double(semanticSection, "Threshold", $"{path}.SemanticCache", 0.95, 0.5, 1, errors));
            }
            var quality = Double(item, "QualityTarget", path, 0.95, 0, 1, errors);
            var cascade = item["Cascade"] is null || Bool(item, "Cascade", path, true, errors);
            if (name is null)
            {
                continue;
            }
            result.Add(new ModelConfig(name, kind, routing, deployments, contextWindow, maxOutput, cache, quality, hybrid, item["OwnedBy"] ?? "llm-marketplace", created) { Cascade = cascade, SemanticCache = semantic });
        }
        return result;
    }

    private static IEnumerable<(IConfigurationSection Item, string Path)> Items(IConfigurationSection section, string path, ValidationErrors errors)
    {
        if (section.Value is not null)
        {
            errors.Add(path, "must be a list");
            yield break;
        }
        var children = section.GetChildren().ToList();
        foreach (var child in children.OrderBy(static c => int.TryParse(c.Key, out var i) ? i : int.MaxValue))
        {
            if (!int.TryParse(child.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                errors.Add($"{path}.{child.Key}", $"{path} must be a list, not a map");
                continue;
            }
            yield return (child, $"{path}[{index}]");
        }
    }

    private static T ParseEnum<T>(string raw, string path, ValidationErrors errors, params (string Alias, T Value)[] aliases)
        where T : struct, Enum
    {
        foreach (var (alias, value) in aliases)
        {
            if (string.Equals(alias, raw, StringComparison.OrdinalIgnoreCase)) return value;
        }
        if (Enum.TryParse<T>(raw.Replace("-", "", StringComparison.Ordinal), ignoreCase: true, out var parsed) && !int.TryParse(raw, out _))
        {
            return parsed;
        }
        var known = Enum.GetNames<T>().Select(static n => n.ToLowerInvariant()).Concat(aliases.Select(static a => a.Alias));
        errors.Add(path, $"'{raw}' is not one of: {string.Join(", ", known)}");
        return default;
    }

    private static double Double(IConfigurationSection s, string key, string path, double fallback, double min, double max, ValidationErrors errors) =>
        Number(s, key, path, fallback, min, max, NumberStyles.Float, errors);

    private static decimal Money(IConfigurationSection s, string key, string path, decimal fallback, ValidationErrors errors) =>
        Number(s, key, path, fallback, 0m, decimal.MaxValue, NumberStyles.Float, errors, "a price cannot be negative");

    private static int Int(IConfigurationSection s, string key, string path, int fallback, int min, int max, ValidationErrors errors) =>
        Number(s, key, path, fallback, min, max, NumberStyles.Integer, errors);

    private static long Long(IConfigurationSection s, string key, string path, long fallback, long min, long max, ValidationErrors errors) =>
        Number(s, key, path, fallback, min, max, NumberStyles.Integer, errors);

    /// <summary>
    /// A number setting in [<paramref name="min"/>, <paramref name="max"/>]: <paramref name="fallback"/> when absent, else
    /// the value, or an error naming the setting (not a number, or out of range: <paramref name="outOfRange"/> when given).
    /// </summary>
    private static T Number<T>(IConfigurationSection s, string key, string path, T fallback, T min, T max, NumberStyles style, ValidationErrors errors, string? outOfRange = null)
        where T : struct, INumber<T>
    {
        var raw = s[key];
        if (raw is null) return fallback;
        if (!T.TryParse(raw, style, CultureInfo.InvariantCulture, out var v) || T.IsNaN(v))
        {
            errors.Add($"{path}.{key}", style == NumberStyles.Integer ? $"'{raw}' is not a whole number" : $"'{raw}' is not a number");
            return fallback;
        }
        if (v < min || v > max)
        {
            errors.Add($"{path}.{key}", outOfRange ?? $"{raw} is out of range [{min.ToString(null, CultureInfo.InvariantCulture)}, {max.ToString(null, CultureInfo.InvariantCulture)}]");
            return fallback;
        }
        return v;
    }

    private static bool Bool(IConfigurationSection s, string key, string path, bool fallback, ValidationErrors errors)
    {
        var raw = s[key];
        if (raw is null) return fallback;
        if (!bool.TryParse(raw, out var v))
        {
            errors.Add($"{path}.{key}", $"'{raw}' is not true or false");
            return fallback;
        }
        return v;
    }

    private static TimeSpan Seconds(IConfigurationSection s, string key, string path, TimeSpan fallback, ValidationErrors errors)
    {
        var v = Double(s, key, path, fallback.TotalSeconds, 0.001, 86_400 * 7, errors);
        return TimeSpan.FromSeconds(v);
    }
}
