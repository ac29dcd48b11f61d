using Dapper;
using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Catalog.Import;
using LlmMarketplace.Catalog.Listings;
using LlmMarketplace.Catalog.Storage;
using LlmMarketplace.Host.Commands;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace LlmMarketplace.Catalog.Tests.Import;

/// <summary>Import of the real OpenRouter and models.dev files into SQLite and PostgreSQL: idempotent, grouped, transactional.</summary>
public sealed class ImportTests
{
    private static async Task<long> CountAsync(Database database, string table)
    {
        await using var c = await database.OpenAsync();
        return await c.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM {table}");
    }

    [Theory]
    [OnEachStorage]
    public async Task Reimporting_updates_and_never_duplicates(string provider)
    {
        await using var database = await TestDatabases.CreateAsync(provider);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero));
        var importer = new ImportService(database, time, NullLogger<ImportService>.Instance);

        await using (var file = File.OpenRead(CatalogData.OpenRouterFile))
        {
            var first = await importer.ImportAsync(file, "test", null, default);
            Assert.Equal((364, 364, 0, 0), (first.Read, first.Created, first.Updated, first.Unchanged));
        }
        await using (var file = File.OpenRead(CatalogData.OpenRouterFile))
        {
            var again = await importer.ImportAsync(file, "test", null, default);
            Assert.Equal((0, 0, 364), (again.Created, again.Updated, again.Unchanged));
        }
        Assert.Equal(364, await CountAsync(database, "catalog_services"));
        Assert.Equal(364, await CountAsync(database, "catalog_versions"));

        // A changed entry is updated in place.
        var json = JsonDocument.Parse(await File.ReadAllTextAsync(CatalogData.OpenRouterFile)).RootElement;
        var first364 = json.GetProperty("data").EnumerateArray().Select(static e => System.Text.Json.Nodes.JsonNode.Parse(e.GetRawText())!.AsObject()).ToList();
        first364[0]["name"] = "Renamed model";
        var changed = new System.Text.Json.Nodes.JsonObject { ["data"] = new System.Text.Json.Nodes.JsonArray([.. first364]) };
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(changed.ToJsonString()));
        var third = await importer.ImportAsync(stream, "test", null, default);
        Assert.Equal((0, 1, 363), (third.Created, third.Updated, third.Unchanged));
        var store = new CatalogStore(database);
        var service = await store.FindServiceAsync(first364[0]["id"]!.GetValue<string>(), default);
        Assert.Equal("Renamed model", service!.Name);
        Assert.Equal(364, await CountAsync(database, "catalog_services"));
    }

    [Theory]
    [OnEachStorage]
    public async Task A_model_served_by_several_providers_becomes_one_listing_with_several_deployments(string provider)
    {
        await using var database = await TestDatabases.CreateAsync(provider);
        var importer = new ImportService(database, TimeProvider.System, NullLogger<ImportService>.Instance);
        await using var file = File.OpenRead(CatalogData.ModelsDevFile);
        var summary = await importer.ImportAsync(file, "test", null, default);
        Assert.Equal(CatalogImporter.ModelsDevFormat, summary.Format);

        // Count the providers serving gpt-oss-120b in the file itself.
        var root = JsonDocument.Parse(await File.ReadAllTextAsync(CatalogData.ModelsDevFile)).RootElement;
        var servingProviders = root.GetProperty("providers").EnumerateArray()
            .Where(static p => p.GetProperty("models").EnumerateArray().Any(static m => m.GetProperty("id").GetString()!.Split('/')[^1].Equals("gpt-oss-120b", StringComparison.OrdinalIgnoreCase)))
            .Select(static p => p.GetProperty("id").GetString()).Distinct().Count();
        Assert.True(servingProviders > 5);

        var store = new CatalogStore(database);
        var service = await store.FindServiceAsync("gpt-oss-120b", default);
        Assert.NotNull(service);
        var versions = await store.VersionsAsync(service.Id, default);
        var spec = JsonSerializer.Deserialize<ListingSpec>(Assert.Single(versions).Spec, new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
        Assert.Equal(servingProviders, spec.Deployments!.Count);
        Assert.Equal(summary.Created, await CountAsync(database, "catalog_services"));
        Assert.True(summary.Created < 5276, "listings are grouped across providers");
    }

    [Fact]
    public async Task An_unknown_file_format_changes_nothing()
    {
        await using var database = await TestDatabases.CreateAsync("sqlite");
        var importer = new ImportService(database, TimeProvider.System, NullLogger<ImportService>.Instance);
        using var stream = new MemoryStream("""{"models": []}"""u8.ToArray());
        await Assert.ThrowsAsync<InvalidDataException>(() => importer.ImportAsync(stream, "test", null, default));
        Assert.Equal(0, await CountAsync(database, "catalog_services"));
    }

    [Fact]
    public async Task The_cli_imports_with_a_summary_and_fails_with_a_message()
    {
        var dir = Path.Combine(Path.GetTempPath(), "llmm-tests", Guid.NewGuid().ToString("N"));
        var output = new StringWriter();
        var originalOut = Console.Out;
        Console.SetOut(output);
        int ok, missing;
        try
        {
            ok = await CliCommands.Create().Parse(["catalog", "import", CatalogData.OpenRouterFile, "--data", dir]).InvokeAsync();
            missing = await CliCommands.Create().Parse(["catalog", "import", Path.Combine(dir, "nope.json"), "--data", dir]).InvokeAsync();
        }
        finally
        {
            Console.SetOut(originalOut);
        }
        Assert.Equal(0, ok);
        Assert.Contains("364 created", output.ToString(), StringComparison.Ordinal);
        Assert.NotEqual(0, missing);
        await using var database = new Database(new StorageOptions { DataDirectory = dir });
        Assert.Equal(364, await CountAsync(database, "catalog_services"));
    }
}
