namespace LlmMarketplace.Insights.Tests.Events;

/// <summary>
/// A registry source's sync sends <c>listing.published</c> once per version it makes live: a new model's 1.0.0 and a
/// changed price's new version, never for an unchanged model, a dry run or a sync that changed nothing.
/// </summary>
public sealed class SourceSyncPublishedTests
{
    private const string Secret = "test-secret-0123456789abcdef";

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Each_version_a_sync_makes_live_sends_one_listing_published_event(string storage)
    {
        // Runs on PostgreSQL whatever the environment: without LLMM_TEST_POSTGRES the storage helper fails rather than skips.
        await using var db = await TestStorage.CreateAsync(storage);
        var overrides = db.Overrides;
        await using var receiver = await WebhookReceiver.StartAsync(Secret, failFirst: 0);
        var content = "{\"data\":[]}";
        await using var registry = await FakeUpstream.StartAsync(async (context, _) => await FakeUpstream.Json(context, Volatile.Read(ref content)));
        static string File(string price, params string[] ids) => JsonSerializer.Serialize(new
        {
            data = ids.Select(id => new { id, name = id, context_length = 8192, pricing = new { prompt = price, completion = "0.000002" } }),
        });
        overrides["Catalog:Sources:0:Name"] = "registry";
        overrides["Catalog:Sources:0:Url"] = registry.BaseUrl + "/models.json";
        overrides["Catalog:Sources:0:Format"] = "openrouter";
        overrides["Catalog:Sources:0:IntervalMinutes"] = "0";
        overrides["Insights:Webhooks:PollInterval"] = "00:00:00.050";
        overrides["Insights:Webhooks:AllowLoopback"] = "true"; // the receiver listens on loopback
        overrides["Insights:Events:BatchDelay"] = "00:00:00.100";
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(registry.BaseUrl + "/v1"), overrides);
        await PostJsonAsync(host.Client, "api/v1/alerts/webhooks", new { url = receiver.Url, kinds = new[] { "events" }, secret = Secret });
        var (a, b) = ("sync/a-" + Guid.NewGuid().ToString("N")[..8], "sync/b-" + Guid.NewGuid().ToString("N")[..8]);

        async Task SyncAsync(string query = "")
        {
            using var response = await host.Client.PostAsync("api/v1/catalog/sources/registry/sync" + query, null);
            Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        }

        Volatile.Write(ref content, File("0.000001", a));
        await SyncAsync("?dryRun=true");
        await SyncAsync();
        await SyncAsync();
        // b is new and a's price changed: two versions go live (b 1.0.0, a 1.1.0); the dry run before publishes nothing.
        Volatile.Write(ref content, File("0.000003", a, b));
        await SyncAsync("?dryRun=true");
        await SyncAsync();
        await SyncAsync();

        await Wait.UntilAsync(() => Published(receiver).Count(p => p == $"{a}@1.1.0") == 1 && Published(receiver).Contains($"{b}@1.0.0"),
            TimeSpan.FromSeconds(20), "listing.published for the versions the syncs made live");
        // The audit entries behind the events were appended in order, so everything before the last one was delivered.
        Assert.Equal([$"{a}@1.0.0", $"{a}@1.1.0", $"{b}@1.0.0"], Published(receiver).Order(StringComparer.Ordinal).ToArray());
    }

    /// <summary><c>slug@version</c> of every distinct listing.published event received so far.</summary>
    private static List<string> Published(WebhookReceiver receiver) => receiver.Events
        .DistinctBy(static e => e.GetProperty("id").GetString())
        .Where(static e => e.GetProperty("type").GetString() == "listing.published")
        .Select(static e => e.GetProperty("data").GetProperty("slug").GetString() + "@" + e.GetProperty("data").GetProperty("version").GetString())
        .ToList();
}
