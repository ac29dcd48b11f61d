using System.Text.Json.Nodes;
using LlmMarketplace.BuildingBlocks.Net;
using LlmMarketplace.BuildingBlocks.Secrets;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Routing;
using Microsoft.Extensions.Primitives;

namespace LlmMarketplace.Catalog.Routing;

/// <summary>
/// Makes published and deprecated listing versions routable through the gateway: the current version under the
/// listing's slug and every routable version under <c>slug@version</c>, with its deployments and prices.
/// Retired versions are absent, so calls to them answer <c>model_not_found</c>.
/// </summary>
internal sealed class CatalogModelSource(CatalogState state, CatalogOptions options) : IModelSource
{
    private Cached? _cache;

    private sealed record Cached(CatalogSnapshot For, ModelSourceSnapshot Models);

    public IChangeToken GetChangeToken() => state.GetChangeToken();

    public ModelSourceSnapshot GetModels()
    {
        var snapshot = state.Current;
        if (Volatile.Read(ref _cache) is { } cached && ReferenceEquals(cached.For, snapshot)) return cached.Models;
        var providers = new Dictionary<string, ProviderConfig>(StringComparer.Ordinal);
        // A publisher's base URL is checked on every connection, not only when the version was probed: its name may
        // resolve elsewhere by now (DNS rebinding).
        var addressPolicy = Publishing.EndpointGuard.Policy(options);
        var models = new List<ModelConfig>();
        foreach (var entry in snapshot.Entries)
        {
            foreach (var listed in entry.Routable)
            {
                // Callable means callable: only the deployments whose credential resolves are routed (all of them when
                // none does: such a call is refused before routing, naming what is missing).
                var version = listed with { Spec = listed.Spec with { Deployments = Callability.Usable(listed.Spec, snapshot) } };
                var model = ToModel(entry, version, providers, snapshot.Secrets, addressPolicy, ReferenceEquals(listed, entry.Current) ? entry.Service.Slug : $"{entry.Service.Slug}@{version.Row.Version}");
                if (model is not null) models.Add(model);
                if (ReferenceEquals(listed, entry.Current))
                {
                    var pinned = ToModel(entry, version, providers, snapshot.Secrets, addressPolicy, $"{entry.Service.Slug}@{version.Row.Version}");
                    if (pinned is not null) models.Add(pinned);
                }
            }
        }
        var result = new ModelSourceSnapshot([.. providers.Values], models);
        Volatile.Write(ref _cache, new Cached(snapshot, result));
        return result;
    }

    private static ModelConfig? ToModel(CatalogEntry entry, RoutableVersion version, Dictionary<string, ProviderConfig> providers, IReadOnlyDictionary<string, string> secrets, OutboundAddressPolicy addressPolicy, string name)
    {
        var spec = version.Spec;
        var kind = CallableKinds.Of(spec.Kind);
        if (kind is null) return null;
        var deployments = new List<DeploymentConfig>();
        foreach (var d in spec.Deployments ?? [])
        {
            if (d.BaseUrl is null || !Uri.TryCreate(d.BaseUrl, UriKind.Absolute, out var baseUrl) || d.Provider is null) continue;
            var type = ParseType(d.Type);
            var providerName = ProviderName(d, type, baseUrl, providers, secrets, addressPolicy);
            var pricing = d.Pricing ?? spec.Pricing;
            var id = $"{d.Provider}/{d.UpstreamModel ?? spec.Slug}";
            if (deployments.Any(x => x.Id == id)) continue;
            deployments.Add(new DeploymentConfig(id, providerName, d.UpstreamModel ?? entry.Service.Slug,
                new Pricing(pricing?.InputPerMTok ?? 0, pricing?.OutputPerMTok ?? 0, pricing?.CachedInputPerMTok, pricing?.CacheWritePerMTok, pricing?.PerRequest ?? 0)
                {
                    PerSearchUnit = pricing?.PerSearchUnit ?? 0,
                    PerImage = pricing?.PerImage ?? 0,
                    PerMinute = pricing?.PerMinute ?? 0,
                    PerMCharacters = pricing?.PerMCharacters ?? 0,
                },
                1, d.Region));
        }
        if (deployments.Count == 0) return null;
        return new ModelConfig(name, kind.Value, RoutingMode.Priority, deployments, spec.ContextLength, spec.MaxOutputTokens, null, 0.95, HybridWeights.Default,
            spec.Publisher ?? entry.Service.Publisher, spec.Created ?? 0)
        {
            Extensions = Extensions(entry, version),
        };
    }

    /// <summary>One provider per distinct (name, type, base URL, key reference), shared by the listings that use it.</summary>
    private static string ProviderName(DeploymentSpec d, ProviderType type, Uri baseUrl, Dictionary<string, ProviderConfig> providers, IReadOnlyDictionary<string, string> secrets, OutboundAddressPolicy addressPolicy)
    {
        string? apiKey = null;
        if (SecretReference.StoredSecretName(d.ApiKey) is { } stored) apiKey = secrets.GetValueOrDefault(stored);
        else if (d.ApiKey is { } reference && SecretReference.IsReference(reference) && SecretReference.TryResolve(reference, out var secret, out _)) apiKey = secret;
        var settings = GatewaySettings.Default;
        var config = new ProviderConfig("", type, baseUrl, apiKey, null, new Dictionary<string, string>(), settings.ConnectTimeout, settings.FirstByteTimeout, settings.TotalTimeout, d.Region)
        {
            AddressPolicy = addressPolicy,
        };
        for (var i = 0; ; i++)
        {
            var name = i == 0 ? $"catalog:{d.Provider}" : $"catalog:{d.Provider}:{i}";
            var candidate = config with { Name = name };
            if (!providers.TryGetValue(name, out var existing))
            {
                providers[name] = candidate;
                return name;
            }
            if (existing.Type == candidate.Type && existing.BaseUrl == candidate.BaseUrl && existing.ApiKey == candidate.ApiKey && existing.Region == candidate.Region) return name;
        }
    }

    private static ProviderType ParseType(string? type) => type?.ToLowerInvariant() switch
    {
        "azure-openai" or "azure" => ProviderType.AzureOpenAI,
        "anthropic" => ProviderType.Anthropic,
        "gemini" => ProviderType.Gemini,
        "cohere" => ProviderType.Cohere,
        _ => ProviderType.OpenAI,
    };

    /// <summary>OpenRouter-compatible fields (name, description, pricing per token as strings, architecture) plus lifecycle, compliance and deployments.</summary>
    private static JsonObject Extensions(CatalogEntry entry, RoutableVersion version)
    {
        var spec = version.Spec;
        static string PerToken(decimal? perM) => ((perM ?? 0) / 1_000_000m).ToString("0.############", CultureInfo.InvariantCulture);
        var o = new JsonObject
        {
            ["name"] = spec.Name,
            ["canonical_slug"] = spec.CanonicalId ?? entry.Service.Slug,
            ["description"] = spec.Description,
            ["architecture"] = new JsonObject
            {
                ["input_modalities"] = new JsonArray([.. (spec.InputModalities ?? ["text"]).Select(static m => (JsonNode?)JsonValue.Create(m))]),
                ["output_modalities"] = new JsonArray([.. (spec.OutputModalities ?? ["text"]).Select(static m => (JsonNode?)JsonValue.Create(m))]),
            },
            ["pricing"] = new JsonObject
            {
                ["prompt"] = PerToken(spec.Pricing?.InputPerMTok),
                ["completion"] = PerToken(spec.Pricing?.OutputPerMTok),
                ["input_cache_read"] = PerToken(spec.Pricing?.CachedInputPerMTok),
                ["input_cache_write"] = PerToken(spec.Pricing?.CacheWritePerMTok),
                ["request"] = (spec.Pricing?.PerRequest ?? 0).ToString("0.############", CultureInfo.InvariantCulture),
            },
            ["top_provider"] = new JsonObject { ["context_length"] = spec.ContextLength, ["max_completion_tokens"] = spec.MaxOutputTokens },
            ["supported_parameters"] = new JsonArray([.. (spec.SupportedParameters ?? []).Select(static m => (JsonNode?)JsonValue.Create(m))]),
            ["knowledge_cutoff"] = spec.KnowledgeCutoff,
            ["lifecycle"] = new JsonObject
            {
                ["version"] = version.Row.Version,
                ["state"] = version.Row.State,
                ["sunset"] = version.Row.SunsetAt,
                ["replacement"] = version.Row.Replacement,
            },
            ["compliance"] = new JsonObject
            {
                ["certifications"] = new JsonArray([.. (spec.Compliance?.Certifications ?? []).Select(static m => (JsonNode?)JsonValue.Create(m))]),
                ["data_collection"] = spec.Compliance?.DataCollection,
                ["zero_retention"] = spec.Compliance?.ZeroRetention,
                ["max_data_classification"] = spec.Compliance?.MaxDataClassification,
            },
            ["deployments"] = new JsonArray([.. (spec.Deployments ?? []).Select(static d => (JsonNode?)new JsonObject
            {
                ["provider"] = d.Provider,
                ["model"] = d.UpstreamModel,
                ["region"] = d.Region,
                ["data_residency"] = d.DataResidency,
            })]),
        };
        return o;
    }
}
