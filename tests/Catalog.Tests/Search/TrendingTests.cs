using LlmMarketplace.Catalog.Tests.Publishing;

namespace LlmMarketplace.Catalog.Tests.Search;

/// <summary>
/// Trending and recommendations come from durable usage (the Insights rollups): another replica on the same database
/// sees the same ranking, and so does the host after a restart. On SQLite and PostgreSQL.
/// </summary>
public sealed class TrendingTests
{
    [Theory]
    [OnEachStorage]
    public async Task Trending_counts_successful_calls_on_every_replica_and_after_a_restart(string provider)
    {
        await using var upstream = await PublishingFlowTests.StartUpstreamAsync();
        var settings = new Dictionary<string, string?>(PublishingFlowTests.DevelopmentCatalog)
        {
            ["Catalog:TrustedPublishers:0"] = "acme",
            ["Insights:RollupInterval"] = "00:00:00.050",
            // Both hosts share this storage.
            ["Storage:DataDirectory"] = Path.Combine(Path.GetTempPath(), "llmm-tests", Guid.NewGuid().ToString("N")),
        };
        if (provider == "postgres")
        {
            await using var database = await TestDatabases.CreateAsync(provider);
            settings["Storage:Provider"] = "postgres";
            settings["Storage:ConnectionString"] = database.ConnectionString;
        }
        var config = Configs.OpenAI(upstream.BaseUrl + "/v1");
        var slugs = new List<string>();
        await using (var first = await GatewayHost.StartAsync(config, settings))
        {
            foreach (var name in new[] { "busy", "quiet" })
            {
                var slug = $"acme/{name}-{Guid.NewGuid().ToString("N")[..6]}";
                var created = JsonDocument.Parse(await (await first.Client.PostAsJsonAsync("api/v1/services", PublishingFlowTests.Listing(slug, upstream.BaseUrl + "/v1"))).Content.ReadAsStringAsync()).RootElement;
                var submitted = await first.Client.PostAsync($"api/v1/services/{created.GetProperty("id").GetString()}/versions/1.0.0/submit", null);
                Assert.Equal(HttpStatusCode.OK, submitted.StatusCode);
                slugs.Add(slug);
            }
            async Task<HttpStatusCode> ChatAsync(string model) =>
                (await first.Client.PostAsJsonAsync("v1/chat/completions", new { model, messages = new[] { new { role = "user", content = "hi" } } })).StatusCode;
            for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.OK, await ChatAsync(slugs[0]));
            Assert.Equal(HttpStatusCode.OK, await ChatAsync(slugs[1]));
            // A failed call is not a use: the unknown pinned version answers 404 and is not counted.
            Assert.Equal(HttpStatusCode.NotFound, await ChatAsync(slugs[1] + "@9.9.9"));

            await Wait.UntilAsync(async () => Calls(await TrendingAsync(first)) == $"{slugs[0]}=3,{slugs[1]}=1", TimeSpan.FromSeconds(30), "the calls to be rolled up");

            // Another replica on the same database, which took none of the calls, ranks the same.
            await using var second = await GatewayHost.StartAsync(config, settings);
            Assert.Equal($"{slugs[0]}=3,{slugs[1]}=1", Calls(await TrendingAsync(second)));
        }

        // After a restart nothing is lost.
        await using var restarted = await GatewayHost.StartAsync(config, settings);
        Assert.Equal($"{slugs[0]}=3,{slugs[1]}=1", Calls(await TrendingAsync(restarted)));

        // Without team usage, recommendations fall back to what is trending.
        var recommended = JsonDocument.Parse(await restarted.Client.GetStringAsync("api/v1/recommendations")).RootElement.GetProperty("suggestions");
        Assert.Equal(slugs[0], recommended[0].GetProperty("slug").GetString());
    }

    private static async Task<JsonElement> TrendingAsync(GatewayHost host) =>
        JsonDocument.Parse(await host.Client.GetStringAsync("api/v1/trending")).RootElement.GetProperty("results").Clone();

    /// <summary>The catalog listings (acme/...) with their calls, most first: <c>slug=calls,...</c>.</summary>
    private static string Calls(JsonElement results) => string.Join(",", results.EnumerateArray()
        .Where(static r => r.GetProperty("slug").GetString()!.StartsWith("acme/", StringComparison.Ordinal))
        .Select(static r => $"{r.GetProperty("slug").GetString()}={r.GetProperty("calls").GetInt64()}"));
}
