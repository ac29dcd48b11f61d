using LlmMarketplace.Catalog.Search;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Catalog.Tests.Search;

/// <summary>Hybrid ranking against a real (Kestrel) embeddings endpoint whose vectors know a few synonyms.</summary>
public sealed class HybridSearchTests
{
    private static readonly string[][] Concepts = [["car", "automobile", "vehicle"], ["insurance", "policies", "cover"], ["translates", "languages", "translation"]];

    /// <summary>A bag-of-concepts embedding: synonyms share a dimension, other words hash into the rest.</summary>
    private static float[] Embed(string text)
    {
        var vector = new float[32];
        foreach (var word in text.ToLowerInvariant().Split([' ', '\n', ',', '.'], StringSplitOptions.RemoveEmptyEntries))
        {
            var concept = Array.FindIndex(Concepts, c => c.Contains(word));
            vector[concept >= 0 ? concept : 3 + ((word.GetHashCode(StringComparison.Ordinal) & 0x7fffffff) % 29)] += 1;
        }
        return vector;
    }

    [Fact]
    public async Task A_query_with_no_shared_word_finds_the_listing_by_meaning_and_listings_are_embedded_once()
    {
        var inputs = new List<int>();
        await using var embeddings = await FakeUpstream.StartAsync(async (context, _) =>
        {
            var body = FakeUpstream.Received(context).Json;
            var texts = body.GetProperty("input").EnumerateArray().Select(static x => x.GetString()!).ToList();
            lock (inputs) inputs.Add(texts.Count);
            var data = texts.Select((t, i) => new { @object = "embedding", index = i, embedding = Embed(t) });
            await FakeUpstream.Json(context, JsonSerializer.Serialize(new { @object = "list", data, model = "embed-test" }));
        });
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI("https://upstream.invalid/v1"), new Dictionary<string, string?>
        {
            ["Catalog:Embeddings:BaseUrl"] = embeddings.BaseUrl + "/v1",
            ["Catalog:Embeddings:Model"] = "embed-test",
        });
        const string catalog = """
            {"data": [
              {"id": "acme/motor-quotes", "name": "Acme: Motor Quotes", "description": "Quotes automobile insurance policies in seconds.", "context_length": 8192,
               "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]}, "pricing": {"prompt": "0.000001", "completion": "0.000002"}},
              {"id": "acme/poet", "name": "Acme: Poet", "description": "Writes sonnets and haiku.", "context_length": 8192,
               "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]}, "pricing": {"prompt": "0.000001", "completion": "0.000002"}},
              {"id": "acme/polyglot", "name": "Acme: Polyglot", "description": "Translates between forty languages.", "context_length": 8192,
               "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]}, "pricing": {"prompt": "0.000001", "completion": "0.000002"}}
            ]}
            """;
        var imported = await host.Client.PostAsync("api/v1/catalog/import", new StringContent(catalog, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, imported.StatusCode);
        // The gateway's two configured models, listed at start, then the three published listings in one batch at publish time.
        Assert.Equal([2, 3], inputs);

        // Text ranking alone knows no "car".
        var state = host.Service<CatalogState>();
        Assert.Equal(0, state.Current.Index.Search(new SearchQuery { Text = "car" }).Total);

        var body = JsonDocument.Parse(await host.Client.GetStringAsync("api/v1/search?q=car&limit=3")).RootElement;
        Assert.Equal("acme/motor-quotes", body.GetProperty("results")[0].GetProperty("slug").GetString());
        var body2 = JsonDocument.Parse(await host.Client.GetStringAsync("api/v1/search?q=translation&limit=3")).RootElement;
        Assert.Equal("acme/polyglot", body2.GetProperty("results")[0].GetProperty("slug").GetString());
        // Only the queries were embedded on the query path, one input each.
        Assert.Equal([2, 3, 1, 1], inputs);

        // Reloading does not embed the listings again.
        await state.ReloadAsync(default);
        Assert.Equal([2, 3, 1, 1], inputs);
    }
}
