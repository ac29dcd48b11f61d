namespace LlmMarketplace.Insights.Tests.Events;

/// <summary>
/// <c>listing.published</c> is sent exactly once per version that goes live, whatever the path: the last of the
/// required approvals (not the first of two), a trusted publisher's automatic approval, an import.
/// </summary>
public sealed class ListingPublishedTests
{
    private const string Secret = "test-secret-0123456789abcdef";

    [Theory]
    [OnEachStorage]
    public async Task Each_path_to_live_sends_one_listing_published_event(string storage)
    {
        await using var db = await TestStorage.CreateAsync(storage);
        var overrides = db.Overrides;
        await using var receiver = await WebhookReceiver.StartAsync(Secret, failFirst: 0);
        await using var upstream = await FakeUpstream.StartAsync(static async (context, _) =>
        {
            if (context.Request.Path == "/v1/models")
            {
                await FakeUpstream.Json(context, """{"object":"list","data":[{"id":"tiny-1","object":"model"}]}""");
                return;
            }
            await FakeUpstream.Json(context, """{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"tiny-1","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}""");
        });
        overrides["Catalog:AllowLoopbackEndpoints"] = "true";
        overrides["Catalog:ApprovalLevels"] = "2";
        overrides["Catalog:TrustedPublishers:0"] = "trusted";
        overrides["Insights:Webhooks:PollInterval"] = "00:00:00.050";
        overrides["Insights:Webhooks:AllowLoopback"] = "true"; // the receiver listens on loopback
        overrides["Insights:Events:BatchDelay"] = "00:00:00.100";
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), overrides);
        await PostJsonAsync(host.Client, "api/v1/alerts/webhooks", new { url = receiver.Url, kinds = new[] { "events" }, secret = Secret });
        var baseUrl = upstream.BaseUrl + "/v1";

        // 1. Two approvals required: the first one publishes nothing, the second one publishes.
        var twoStep = await CreateAsync(host, "acme", baseUrl);
        var versionId = await SubmitAsync(host, twoStep, "pending_approval");
        await DecideAsync(host.Client, versionId, "pending_approval");
        using (var approver = await ApproverAsync(host))
        {
            await DecideAsync(approver, versionId, "published");
        }

        // 2. A trusted publisher's version goes live on submission.
        var trusted = await CreateAsync(host, "trusted", baseUrl);
        await SubmitAsync(host, trusted, "published");

        // 3. An import makes a new listing live (and an unchanged re-import publishes nothing).
        var imported = "importer/model-" + Guid.NewGuid().ToString("N")[..8];
        var file = $$$"""{"data":[{"id":"{{{imported}}}","name":"Imported","context_length":8192,"pricing":{"prompt":"0.000001","completion":"0.000002"},"architecture":{"input_modalities":["text"],"output_modalities":["text"]}}]}""";
        for (var i = 0; i < 2; i++)
        {
            using var import = await host.Client.PostAsync("api/v1/catalog/import", new StringContent(file, Encoding.UTF8, "application/json"));
            Assert.True(import.StatusCode == HttpStatusCode.OK, await import.Content.ReadAsStringAsync());
        }

        string[] slugs = [twoStep.Slug, trusted.Slug, imported];
        await Wait.UntilAsync(() => slugs.All(s => Published(receiver).Contains(s)), TimeSpan.FromSeconds(20), "a listing.published event for each path");
        // Everything appended before the last import's events has been delivered by now; one event per version.
        var published = Published(receiver);
        foreach (var slug in slugs) Assert.Equal(1, published.Count(p => p == slug));
        Assert.Equal(2, Types(receiver).Count(static t => t == "approval.decided"));

        // The imports are in the audit trail, with what they did.
        var audit = await host.Client.GetStringAsync("api/v1/audit?action=catalog.imported&limit=10");
        Assert.Contains("1 created", audit, StringComparison.Ordinal);
        Assert.Contains("1 unchanged", audit, StringComparison.Ordinal);
    }

    private static List<string> Types(WebhookReceiver receiver) =>
        receiver.Events.DistinctBy(static e => e.GetProperty("id").GetString()).Select(static e => e.GetProperty("type").GetString()!).ToList();

    /// <summary>The slug of every distinct listing.published event received so far.</summary>
    private static List<string> Published(WebhookReceiver receiver) => receiver.Events
        .DistinctBy(static e => e.GetProperty("id").GetString())
        .Where(static e => e.GetProperty("type").GetString() == "listing.published")
        .Select(static e => e.GetProperty("data").GetProperty("slug").GetString()!)
        .ToList();

    private static async Task<(string Id, string Slug)> CreateAsync(GatewayHost host, string publisher, string baseUrl)
    {
        var slug = $"{publisher}/tiny-{Guid.NewGuid().ToString("N")[..8]}";
        var created = await PostJsonAsync(host.Client, "api/v1/services", TestListings.Chat(slug, baseUrl, "Tiny Chat", "A tiny chat model for the event tests.", publisher));
        return (created.GetProperty("id").GetString()!, slug);
    }

    private static async Task<string> SubmitAsync(GatewayHost host, (string Id, string Slug) service, string expectedState)
    {
        using var submitted = await host.Client.PostAsync($"api/v1/services/{service.Id}/versions/1.0.0/submit", null);
        var body = await submitted.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(submitted.StatusCode == HttpStatusCode.OK, body.ToString());
        Assert.Equal(expectedState, body.GetProperty("state").GetString());
        return body.GetProperty("id").GetString()!;
    }

    private static async Task DecideAsync(HttpClient client, string versionId, string expectedState)
    {
        using var decided = await client.PostAsJsonAsync($"api/v1/approvals/{versionId}/approve", new { reason = "looks good" });
        var body = await decided.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(decided.StatusCode == HttpStatusCode.OK, body.ToString());
        Assert.Equal(expectedState, body.GetProperty("state").GetString());
    }

    /// <summary>A second approver: a user with the approver role, signed in with a password.</summary>
    private static async Task<HttpClient> ApproverAsync(GatewayHost host)
    {
        var username = "approver-" + Guid.NewGuid().ToString("N")[..8];
        var password = "Approve-" + Guid.NewGuid().ToString("N");
        await PostJsonAsync(host.Client, "api/v1/users", new { username, password, roles = new[] { "approver" }, displayName = "An Approver", email = username + "@example.test" });
        var client = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        using var login = await client.PostAsJsonAsync("api/v1/auth/login", new { username, password });
        var tokens = await login.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(login.StatusCode == HttpStatusCode.OK, tokens.ToString());
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tokens.GetProperty("accessToken").GetString());
        return client;
    }
}
