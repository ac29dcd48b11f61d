namespace LlmMarketplace.Insights.Tests.Events;

/// <summary>Webhooks with signed bodies and retries; events out batched, at least once, each with an id.</summary>
public sealed class EventsOutTests
{
    [Theory]
    [OnEachStorage]
    public async Task Usage_domain_events_and_alerts_reach_a_failing_receiver_signed_and_none_is_lost(string storage)
    {
        await using var db = await TestStorage.CreateAsync(storage);
        var overrides = db.Overrides;
        const string secret = "test-secret-0123456789abcdef";
        await using var receiver = await WebhookReceiver.StartAsync(secret, failFirst: 2);
        await using var upstream = await UpstreamAsync();
        overrides["Insights:Webhooks:RetryBaseDelay"] = "00:00:00.050";
        overrides["Insights:Webhooks:PollInterval"] = "00:00:00.050";
        overrides["Insights:Webhooks:AllowLoopback"] = "true"; // the receiver listens on loopback
        overrides["Insights:Events:BatchSize"] = "10";
        overrides["Insights:Events:BatchDelay"] = "00:00:00.200";
        overrides["Insights:Alerts:ErrorRateMinRequests"] = "5";
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), overrides);

        var created = await PostJsonAsync(host.Client, "api/v1/alerts/webhooks", new { url = receiver.Url, kinds = new[] { "alerts", "events" }, secret });
        var webhookId = created.GetProperty("id").GetString()!;
        Assert.Equal(secret, created.GetProperty("secret").GetString());
        var listed = await GetJsonAsync(host.Client, "api/v1/alerts/webhooks");
        Assert.DoesNotContain(secret, listed.ToString(), StringComparison.Ordinal);

        var (_, keyId, _) = await TeamWithKeyAsync(host, "events");
        for (var i = 0; i < 25; i++) await ChatAsync(host.Client, prompt: i % 2 == 0 ? FailingPrompt : "hello");
        using (var revoke = await host.Client.DeleteAsync(new Uri($"api/v1/keys/{keyId}", UriKind.Relative)))
        {
            Assert.True(revoke.IsSuccessStatusCode);
        }

        var usage = await UsageAsync(host);
        Assert.Equal(25, usage.Count);
        await Wait.UntilAsync(() => Ids(receiver, "usage.recorded").Count == 25 && Ids(receiver, "key.revoked").Count == 1 && Ids(receiver, "alert.fired").Count == 1,
            TimeSpan.FromSeconds(30), "every usage record, the key revocation and the alert at the receiver");

        // Nothing rejected (every body was signed with the secret), nothing lost, every event with a unique id and a version.
        Assert.Empty(receiver.Rejected);
        var events = receiver.Events.ToList();
        Assert.All(events, static e => Assert.Equal(1, e.GetProperty("version").GetInt32()));
        Assert.All(events, static e => Assert.StartsWith("evt_", e.GetProperty("id").GetString(), StringComparison.Ordinal));
        var usageEvents = events.Where(static e => e.GetProperty("type").GetString() == "usage.recorded").ToList();
        Assert.Equal(usage.Select(static u => u.GetProperty("requestId").GetString()).Order(StringComparer.Ordinal),
            usageEvents.GroupBy(static e => e.GetProperty("id").GetString()).Select(static g => g.First().GetProperty("data").GetProperty("requestId").GetString()).Order(StringComparer.Ordinal));
        var revoked = events.Single(static e => e.GetProperty("type").GetString() == "key.revoked");
        Assert.Equal(keyId, revoked.GetProperty("data").GetProperty("targetId").GetString());
        // Batched: far fewer requests than events.
        Assert.True(receiver.Requests < events.Count, $"{receiver.Requests} requests for {events.Count} events");

        // The delivery log shows the failed attempts and their retries.
        var deliveries = await GetJsonAsync(host.Client, $"api/v1/alerts/webhooks/{webhookId}/deliveries?limit=1000");
        var all = deliveries.GetProperty("data").EnumerateArray().ToList();
        Assert.All(all, static d => Assert.Equal("delivered", d.GetProperty("state").GetString()));
        Assert.Equal(2, all.Sum(static d => d.GetProperty("attempts").GetInt32() - 1));
        Assert.Contains(all, static d => d.GetProperty("attempts").GetInt32() > 1 && d.GetProperty("lastStatus").GetInt32() is 204);

        // Webhook changes are audited.
        Assert.Contains("webhook.created", await host.Client.GetStringAsync(new Uri("api/v1/audit?limit=100", UriKind.Relative)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_webhook_that_keeps_failing_is_given_up_after_the_last_attempt()
    {
        const string secret = "another-secret-0123456789";
        await using var receiver = await WebhookReceiver.StartAsync(secret, failFirst: int.MaxValue);
        await using var upstream = await UpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), new Dictionary<string, string?>
        {
            ["Insights:Webhooks:RetryBaseDelay"] = "00:00:00.020",
            ["Insights:Webhooks:PollInterval"] = "00:00:00.020",
            ["Insights:Webhooks:AllowLoopback"] = "true",
            ["Insights:Webhooks:MaxAttempts"] = "3",
            ["Insights:Events:BatchDelay"] = "00:00:00",
        });
        var created = await PostJsonAsync(host.Client, "api/v1/alerts/webhooks", new { url = receiver.Url, kinds = new[] { "events" }, secret });
        await ChatAsync(host.Client);
        // The chat may produce more than one delivery (other events of the same call); every one of them must be given
        // up after three attempts, and the receiver must have seen exactly those attempts and no more.
        var log = await UntilAsync(() => GetJsonAsync(host.Client, $"api/v1/alerts/webhooks/{created.GetProperty("id").GetString()}/deliveries"),
            d =>
            {
                var deliveries = d.GetProperty("data").EnumerateArray().ToList();
                return deliveries.Count > 0 && deliveries.All(static x => x.GetProperty("state").GetString() == "failed")
                    && deliveries.Sum(static x => x.GetProperty("attempts").GetInt32()) == receiver.Requests;
            }, "every delivery to be given up");
        foreach (var failed in log.GetProperty("data").EnumerateArray())
        {
            Assert.Equal(3, failed.GetProperty("attempts").GetInt32());
            Assert.Equal(500, failed.GetProperty("lastStatus").GetInt32());
        }
    }

    [Fact]
    public async Task Bad_webhook_requests_are_all_reported_and_need_an_admin()
    {
        await using var host = await GatewayHost.StartAsync("Providers: []\nModels: []\n");
        using var response = await host.Client.PostAsync(new Uri("api/v1/alerts/webhooks", UriKind.Relative),
            new StringContent("""{"url":"ftp://x","kinds":["alerts","gossip"],"secret":"short"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
        foreach (var name in new[] { "url", "kinds[1]", "secret" }) Assert.True(errors.TryGetProperty(name, out _), name);
    }

    private static List<string> Ids(WebhookReceiver receiver, string type) =>
        receiver.Events.Where(e => e.GetProperty("type").GetString() == type).Select(static e => e.GetProperty("id").GetString()!).Distinct().ToList();
}
