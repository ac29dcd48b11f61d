using LlmMarketplace.Gateway.Configuration;

namespace LlmMarketplace.Catalog.Import;

/// <summary>
/// Lists the models configured in the gateway (<c>Models:</c>) in the catalog, owned by the platform, so an
/// installation shows what it serves. They are upserted through the import path (source <c>gateway</c>) when the
/// catalog loads and whenever the configuration changed since the last upsert. The listings carry no endpoint, so the
/// catalog never routes them: the gateway serves them from its configuration.
/// </summary>
internal sealed class ConfiguredModelListings(IConfiguration configuration, ImportService importer, ILogger<ConfiguredModelListings> logger)
{
    /// <summary>The publisher of the configured models' listings.</summary>
    public const string Platform = "platform";

    /// <summary>The source of the configured models' listings.</summary>
    public const string Source = "gateway";

    private const string Actor = "configuration";

    private string? _synced;

    public async Task SyncAsync(CancellationToken ct)
    {
        var errors = new ValidationErrors();
        var config = GatewayConfigReader.Read(configuration, errors, resolveSecrets: false);
        // An invalid configuration is refused by the gateway with every error; the catalog keeps what it listed.
        if (!errors.IsEmpty) return;
        var listings = ToListings(config);
        var fingerprint = string.Join('\n', listings.Select(CatalogJson.Serialize));
        if (fingerprint == Volatile.Read(ref _synced)) return;
        try
        {
            var summary = await importer.UpsertAsync(Source, Source, listings, Actor, null, ct, auditUnchanged: false);
            foreach (var problem in summary.Problems) Log.ConfiguredModelNotListed(logger, problem);
            Volatile.Write(ref _synced, fingerprint);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Another replica may be listing the same models right now; the next refresh tries again.
            Log.ConfiguredModelsSyncFailed(logger, ex);
        }
    }

    public static IReadOnlyList<ListingSpec> ToListings(GatewayConfig config)
    {
        var providerTypes = config.Providers.ToDictionary(static p => p.Name, static p => p.Type, StringComparer.Ordinal);
        return [.. config.Models.Select(m => ToListing(m, providerTypes))];
    }

    private static ListingSpec ToListing(ModelConfig model, IReadOnlyDictionary<string, ProviderType> providerTypes)
    {
        var first = model.Deployments.Count > 0 ? model.Deployments[0].Pricing : Pricing.Free;
        var providers = model.Deployments.Select(static d => d.Provider).Distinct(StringComparer.Ordinal).ToList();
        return new ListingSpec
        {
            Slug = model.Name,
            Version = "1.0.0",
            Name = model.Name,
            Description = $"Served by this gateway from its configuration, through {string.Join(", ", providers)} ({model.Deployments.Count} deployment{(model.Deployments.Count == 1 ? "" : "s")}, routing: {model.Routing.ToString().ToLowerInvariant()}).",
            Publisher = Platform,
            Kind = Routing.CallableKinds.ListingKind(model.Kind),
            InputModalities = ["text"],
            OutputModalities = [model.Kind == ModelKind.Embedding ? "embedding" : "text"],
            ContextLength = model.ContextWindow,
            MaxOutputTokens = model.MaxOutputTokens,
            Tags = ["gateway"],
            Pricing = ToPricing(first),
            Deployments = [.. model.Deployments.Select(d => new DeploymentSpec
            {
                Provider = d.Provider,
                Type = providerTypes.TryGetValue(d.Provider, out var type) ? TypeName(type) : null,
                UpstreamModel = d.UpstreamModel,
                Region = d.Region,
                Pricing = ToPricing(d.Pricing),
            })],
            // Not the model's Created: the configuration stamps it with the time it was read, which would change the
            // listing on every read. The listing's own creation time stands in for it.
        };
    }

    private static ListingPricing ToPricing(Pricing p) => new(p.InputPerMTok, p.OutputPerMTok, p.CachedInputPerMTok, p.CacheWritePerMTok, p.PerRequest == 0 ? null : p.PerRequest)
    {
        PerSearchUnit = p.PerSearchUnit == 0 ? null : p.PerSearchUnit,
        PerImage = p.PerImage == 0 ? null : p.PerImage,
        PerMinute = p.PerMinute == 0 ? null : p.PerMinute,
        PerMCharacters = p.PerMCharacters == 0 ? null : p.PerMCharacters,
    };

    private static string TypeName(ProviderType type) => type switch
    {
        ProviderType.AzureOpenAI => "azure-openai",
        _ => type.ToString().ToLowerInvariant(),
    };
}
