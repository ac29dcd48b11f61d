namespace LlmMarketplace.Insights.Tests.Events;

/// <summary>
/// Deliveries connect only to addresses <c>Insights:Webhooks:AllowLoopback</c>/<c>AllowPrivate</c> allow, checked on
/// the address the receiver's host name resolves to when connecting.
/// </summary>
public sealed class WebhookAddressPolicyTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_receiver_whose_name_resolves_to_loopback_is_reached_only_when_loopback_is_allowed(bool allowLoopback)
    {
        const string secret = "address-secret-0123456789";
        await using var receiver = await WebhookReceiver.StartAsync(secret, failFirst: 0);
        await using var upstream = await UpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), new Dictionary<string, string?>
        {
            ["Insights:Webhooks:RetryBaseDelay"] = "00:00:00.020",
            ["Insights:Webhooks:PollInterval"] = "00:00:00.020",
            ["Insights:Webhooks:MaxAttempts"] = "2",
            ["Insights:Webhooks:AllowLoopback"] = allowLoopback ? "true" : "false",
            ["Insights:Events:BatchDelay"] = "00:00:00",
        });
        // A name, not an address: nothing at creation can tell where it points; the connection is what is checked.
        var url = receiver.Url.Replace("127.0.0.1", "localhost", StringComparison.Ordinal);
        var created = await PostJsonAsync(host.Client, "api/v1/alerts/webhooks", new { url, kinds = new[] { "events" }, secret });
        await ChatAsync(host.Client);

        var log = await UntilAsync(() => GetJsonAsync(host.Client, $"api/v1/alerts/webhooks/{created.GetProperty("id").GetString()}/deliveries"),
            static d => d.GetProperty("data").EnumerateArray().ToList() is { Count: > 0 } all
                && all.All(static x => x.GetProperty("state").GetString() is "delivered" or "failed"),
            "every delivery to be delivered or given up");
        var deliveries = log.GetProperty("data").EnumerateArray().ToList();
        if (allowLoopback)
        {
            Assert.All(deliveries, static d => Assert.Equal("delivered", d.GetProperty("state").GetString()));
            Assert.NotEmpty(receiver.Events);
            Assert.Empty(receiver.Rejected);
        }
        else
        {
            foreach (var failed in deliveries)
            {
                Assert.Equal("failed", failed.GetProperty("state").GetString());
                Assert.Equal(2, failed.GetProperty("attempts").GetInt32());
                Assert.True(!failed.TryGetProperty("lastStatus", out var status) || status.ValueKind == System.Text.Json.JsonValueKind.Null, "no receiver answered");
                Assert.Contains("not allowed", failed.GetProperty("lastError").GetString(), StringComparison.Ordinal);
            }
            Assert.Equal(0, receiver.Requests);
        }
    }

    [Theory]
    [InlineData("http://127.0.0.1:9/hook", "Insights:Webhooks:AllowLoopback", false)]
    [InlineData("http://[::1]:9/hook", "Insights:Webhooks:AllowLoopback", false)]
    [InlineData("http://10.0.0.5/hook", "Insights:Webhooks:AllowPrivate", false)]
    [InlineData("http://169.254.169.254/latest", "Insights:Webhooks:AllowPrivate", false)]
    [InlineData("http://127.0.0.1:9/hook", "Insights:Webhooks:AllowLoopback", true)]
    [InlineData("http://10.0.0.5/hook", "Insights:Webhooks:AllowPrivate", true)]
    public async Task A_webhook_at_an_address_that_is_not_allowed_is_refused_when_it_is_created(string url, string setting, bool allowed)
    {
        await using var host = await GatewayHost.StartAsync("Providers: []\nModels: []\n", new Dictionary<string, string?> { [setting] = allowed ? "true" : "false" });
        var secret = "address-secret-0123456789";
        if (allowed)
        {
            var created = await PostJsonAsync(host.Client, "api/v1/alerts/webhooks", new { url, kinds = new[] { "alerts" }, secret });
            Assert.Equal(url, created.GetProperty("url").GetString());
            return;
        }
        var refused = await PostJsonAsync(host.Client, "api/v1/alerts/webhooks", new { url, kinds = new[] { "alerts" }, secret }, System.Net.HttpStatusCode.BadRequest);
        var message = Assert.Single(refused.GetProperty("errors").GetProperty("url").EnumerateArray()).GetString();
        Assert.Contains(setting, message, StringComparison.Ordinal);
        var listed = await GetJsonAsync(host.Client, "api/v1/alerts/webhooks");
        Assert.Empty(listed.GetProperty("data").EnumerateArray());
    }
}
