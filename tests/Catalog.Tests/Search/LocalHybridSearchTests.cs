using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Catalog.Search;

namespace LlmMarketplace.Catalog.Tests.Search;

/// <summary>Hybrid search with no embeddings endpoint configured: the embedding model that runs in the process ranks by meaning.</summary>
public sealed class LocalHybridSearchTests
{
    private const string Catalog = """
        {"data": [
          {"id": "acme/devkit", "name": "Acme: Devkit", "description": "A programming assistant: completes functions, fixes bugs and refactors Python, Rust and TypeScript.", "context_length": 8192,
           "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]}, "pricing": {"prompt": "0.000001", "completion": "0.000002"}},
          {"id": "acme/bard", "name": "Acme: Bard", "description": "Composes sonnets, haiku and song lyrics.", "context_length": 8192,
           "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]}, "pricing": {"prompt": "0.000001", "completion": "0.000002"}},
          {"id": "acme/babel", "name": "Acme: Babel", "description": "Translates between forty languages.", "context_length": 8192,
           "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]}, "pricing": {"prompt": "0.000001", "completion": "0.000002"}},
          {"id": "acme/ledger", "name": "Acme: Ledger", "description": "Reads invoices and receipts and extracts totals, dates and vendors.", "context_length": 8192,
           "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]}, "pricing": {"prompt": "0.000001", "completion": "0.000002"}}
        ]}
        """;

    [Theory]
    [OnEachStorage]
    public async Task Queries_sharing_no_word_with_the_listings_find_them_by_meaning_and_vectors_are_stored_once_per_version(string provider)
    {
        await using var database = await TestDatabases.CreateAsync(provider);
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = provider,
            ["Storage:ConnectionString"] = database.ConnectionString,
        };
        List<(string Version, string Model, string Vector, string At)> first;
        await using (var host = await GatewayHost.StartAsync(Configs.OpenAI("https://upstream.invalid/v1"), settings))
        {
            var imported = await host.Client.PostAsync("api/v1/catalog/import", new StringContent(Catalog, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, imported.StatusCode);

            // Words alone find nothing for these questions.
            var index = host.Service<CatalogState>().Current.Index;
            foreach (var (query, expected) in new[] { ("write code for me", "acme/devkit"), ("turn my French letter into English", "acme/babel"), ("how much did I spend on that bill", "acme/ledger") })
            {
                Assert.Equal(0, index.Search(new SearchQuery { Text = query }).Total);
                var body = JsonDocument.Parse(await host.Client.GetStringAsync("api/v1/search?limit=4&q=" + Uri.EscapeDataString(query))).RootElement;
                Assert.Equal(expected, body.GetProperty("results")[0].GetProperty("slug").GetString());
            }
            // A listing far from the question's meaning is not a result at all.
            var bill = JsonDocument.Parse(await host.Client.GetStringAsync("api/v1/search?limit=4&q=" + Uri.EscapeDataString("how much did I spend on that bill"))).RootElement;
            var slugs = bill.GetProperty("results").EnumerateArray().Select(static r => r.GetProperty("slug").GetString()).ToList();
            Assert.DoesNotContain("acme/babel", slugs);
            Assert.Equal(slugs.Count, bill.GetProperty("total").GetInt32());

            first = await StoredAsync(database);
            Assert.Equal(4, first.Count);
            Assert.All(first, row => Assert.Equal("local:all-minilm-l6-v2", row.Model));
            Assert.All(first, row => Assert.Equal(384 * sizeof(float), Convert.FromBase64String(row.Vector).Length));
        }

        // A second start on the same database reads the stored vectors: the rows are untouched (a recomputation rewrites created_at).
        await using (var again = await GatewayHost.StartAsync(Configs.OpenAI("https://upstream.invalid/v1"), settings))
        {
            var body = JsonDocument.Parse(await again.Client.GetStringAsync("api/v1/search?limit=4&q=" + Uri.EscapeDataString("write code for me"))).RootElement;
            Assert.Equal("acme/devkit", body.GetProperty("results")[0].GetProperty("slug").GetString());
            Assert.Equal(first, await StoredAsync(database));
        }
    }

    [Fact]
    public async Task Hybrid_search_can_be_switched_off()
    {
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI("https://upstream.invalid/v1"), new Dictionary<string, string?> { ["Catalog:Embeddings:Enabled"] = "false" });
        var imported = await host.Client.PostAsync("api/v1/catalog/import", new StringContent(Catalog, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, imported.StatusCode);
        var body = JsonDocument.Parse(await host.Client.GetStringAsync("api/v1/search?q=" + Uri.EscapeDataString("write code for me"))).RootElement;
        Assert.Equal(0, body.GetProperty("total").GetInt32());
    }

    private static async Task<List<(string Version, string Model, string Vector, string At)>> StoredAsync(Database database)
    {
        await using var connection = await database.OpenAsync();
        await using var command = connection.CreateCommand();
        // The imported listings' vectors (the gateway's configured models are listed by the platform too).
        command.CommandText = """
            SELECT e.version_id, e.model, e.vector, e.created_at FROM catalog_embeddings e
            JOIN catalog_versions v ON v.id = e.version_id JOIN catalog_services s ON s.id = v.service_id
            WHERE s.slug LIKE 'acme/%' ORDER BY e.version_id
            """;
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string, string, string, string)>();
        while (await reader.ReadAsync()) rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
        return rows;
    }
}
