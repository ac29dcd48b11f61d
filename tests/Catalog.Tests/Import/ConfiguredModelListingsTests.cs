using LlmMarketplace.Catalog.Import;
using LlmMarketplace.Catalog.Listings;
using LlmMarketplace.Catalog.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmMarketplace.Catalog.Tests.Import;

/// <summary>The gateway's configured models are listed in the catalog, owned by the platform, on SQLite and PostgreSQL.</summary>
public sealed class ConfiguredModelListingsTests
{
    private static async Task<JsonElement> GetAsync(GatewayHost host, string url)
    {
        var response = await host.Client.GetAsync(url);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    [Theory]
    [OnEachStorage]
    public async Task A_fresh_installation_lists_the_models_it_serves(string provider)
    {
        var settings = new Dictionary<string, string?>();
        if (provider == "postgres")
        {
            await using var database = await TestDatabases.CreateAsync(provider);
            settings["Storage:Provider"] = "postgres";
            settings["Storage:ConnectionString"] = database.ConnectionString;
        }
        var model = "house-chat-" + Guid.NewGuid().ToString("N")[..8];
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI("https://upstream.invalid/v1", model: model, upstreamModel: "gpt-4.1"), settings);

        var all = await GetAsync(host, "api/v1/search?limit=50");
        var slugs = all.GetProperty("results").EnumerateArray().Select(static r => r.GetProperty("slug").GetString()).ToList();
        Assert.Contains(model, slugs);
        Assert.Contains("text-embedding-3-small", slugs);
        Assert.Equal(2, all.GetProperty("total").GetInt32());

        var found = await GetAsync(host, $"api/v1/search?q={model}&limit=5");
        var first = found.GetProperty("results")[0];
        Assert.Equal(model, first.GetProperty("slug").GetString());
        Assert.Equal(0.15m, first.GetProperty("inputPerMTok").GetDecimal());

        var service = await GetAsync(host, $"api/v1/services/{model}");
        Assert.Equal(ConfiguredModelListings.Platform, service.GetProperty("publisher").GetString());
        Assert.Equal(ConfiguredModelListings.Source, service.GetProperty("source").GetString());
        Assert.Equal("published", service.GetProperty("versions")[0].GetProperty("state").GetString());
        var spec = (await GetAsync(host, $"api/v1/services/{model}/versions/1.0.0")).GetProperty("listing");
        Assert.Equal("chat", spec.GetProperty("kind").GetString());
        var deployment = spec.GetProperty("deployments")[0];
        Assert.Equal("upstream", deployment.GetProperty("provider").GetString());
        Assert.Equal("gpt-4.1", deployment.GetProperty("upstreamModel").GetString());
        // No endpoint and no key reference: the catalog never routes it, the gateway serves it from its configuration.
        Assert.False(deployment.TryGetProperty("baseUrl", out var baseUrl) && baseUrl.ValueKind == JsonValueKind.String);

        var embedding = await GetAsync(host, "api/v1/services/text-embedding-3-small");
        Assert.Equal(ConfiguredModelListings.Platform, embedding.GetProperty("publisher").GetString());
        Assert.Equal("embedding", (await GetAsync(host, "api/v1/services/text-embedding-3-small/versions/1.0.0")).GetProperty("listing").GetProperty("kind").GetString());
    }

    [Theory]
    [OnEachStorage]
    public async Task Listing_again_changes_nothing_and_never_overwrites_a_published_listing(string provider)
    {
        await using var database = await TestDatabases.CreateAsync(provider);
        var importer = new ImportService(database, TimeProvider.System, NullLogger<ImportService>.Instance);
        var errors = new BuildingBlocks.Validation.ValidationErrors();
        var config = Gateway.Configuration.GatewayConfigReader.Read(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Providers:0:Name"] = "upstream",
            ["Providers:0:Type"] = "openai",
            ["Providers:0:BaseUrl"] = "https://upstream.invalid/v1",
            ["Models:0:Name"] = "team-owned",
            ["Models:0:Deployments:0:Provider"] = "upstream",
            ["Models:0:Deployments:0:Model"] = "gpt-4",
            ["Models:1:Name"] = "text-embedding-3-small",
            ["Models:1:Kind"] = "embedding",
            ["Models:1:Deployments:0:Provider"] = "upstream",
            ["Models:1:Deployments:0:Model"] = "text-embedding-3-small",
            ["Models:1:Deployments:0:InputPerMTok"] = "0.02",
        }).Build(), errors, resolveSecrets: false);
        Assert.True(errors.IsEmpty);
        var listings = ConfiguredModelListings.ToListings(config);

        // A team published 'team-owned' through the API before the platform configured a model of that name.
        await using (var c = await database.OpenAsync())
        await using (var tx = await c.BeginTransactionAsync())
        {
            await CatalogStore.InsertServiceAsync(c, tx, new ServiceRow { Id = "svc-team", Slug = "team-owned", Name = "Team owned", Publisher = "acme", Source = ImportService.PublishedThroughApi, CreatedAt = "2026-01-01T00:00:00Z", UpdatedAt = "2026-01-01T00:00:00Z" }, default);
            await tx.CommitAsync();
        }

        var first = await importer.UpsertAsync(ConfiguredModelListings.Source, ConfiguredModelListings.Source, listings, "configuration", null, default);
        Assert.Equal((1, 1), (first.Created, first.Skipped));
        Assert.Contains(first.Problems, static p => p.StartsWith("team-owned:", StringComparison.Ordinal));
        var again = await importer.UpsertAsync(ConfiguredModelListings.Source, ConfiguredModelListings.Source, listings, "configuration", null, default);
        Assert.Equal((0, 0, 1), (again.Created, again.Updated, again.Unchanged));

        var store = new CatalogStore(database);
        var team = await store.FindServiceAsync("team-owned", default);
        Assert.Equal(("acme", ImportService.PublishedThroughApi), (team!.Publisher, team.Source));
        Assert.Empty(await store.VersionsAsync(team.Id, default));
        var platform = await store.FindServiceAsync("text-embedding-3-small", default);
        Assert.Equal((ConfiguredModelListings.Platform, ConfiguredModelListings.Source), (platform!.Publisher, platform.Source));
        var spec = CatalogJson.Deserialize<ListingSpec>(Assert.Single(await store.VersionsAsync(platform.Id, default)).Spec);
        Assert.Equal(0.02m, spec.Pricing!.InputPerMTok);
    }
}
