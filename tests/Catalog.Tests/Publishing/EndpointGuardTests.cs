using LlmMarketplace.BuildingBlocks.Net;

namespace LlmMarketplace.Catalog.Tests.Publishing;

/// <summary>
/// A publisher's base URL is checked on every connection the gateway makes, not only by the probe when the version was
/// submitted: a name that resolves to a loopback or private address by the time of the call is refused.
/// </summary>
public sealed class EndpointGuardTests
{
    [Fact]
    public async Task A_published_endpoint_whose_name_resolves_to_a_disallowed_address_is_refused_at_call_time()
    {
        await using var upstream = await PublishingFlowTests.StartUpstreamAsync();
        await using var database = await TestDatabases.CreateAsync("postgres");
        var shared = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "postgres",
            ["Storage:ConnectionString"] = database.ConnectionString,
            ["Catalog:TrustedPublishers:0"] = "acme",
            ["Catalog:RefreshSeconds"] = "1",
        };

        // A replica that allows loopback endpoints (a development setting) publishes a listing whose base URL is a
        // name, `localhost`, so that every connection resolves it.
        await using var permissive = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"),
            new Dictionary<string, string?>(shared) { ["Catalog:AllowLoopbackEndpoints"] = "true" });
        var baseUrl = upstream.BaseUrl.Replace("127.0.0.1", "localhost", StringComparison.Ordinal) + "/v1";
        var slug = "acme/guarded-" + Guid.NewGuid().ToString("N")[..8];
        using (var created = await permissive.Client.PostAsJsonAsync("api/v1/services", PublishingFlowTests.Listing(slug, baseUrl)))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString();
            using var submitted = await permissive.Client.PostAsync($"api/v1/services/{id}/versions/1.0.0/submit", null);
            Assert.Equal(HttpStatusCode.OK, submitted.StatusCode);
        }

        await Wait.UntilAsync(async () => (await ChatAsync(permissive, slug)).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(10),
            "the listing to be routable where loopback endpoints are allowed");

        // A replica with the default policy (public addresses only) routes the same listing, but refuses to connect.
        await using var guarded = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), shared);
        await Wait.UntilAsync(async () => (await guarded.Client.GetStringAsync("v1/models")).Contains(slug, StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "the guarded replica to load the listing");
        var before = upstream.Requests.Count(static r => r.PathAndQuery == "/v1/chat/completions");
        using var refused = await ChatAsync(guarded, slug);
        var body = await refused.Content.ReadAsStringAsync();
        Assert.True((int)refused.StatusCode is >= 500 and < 600, $"expected an upstream failure, got {(int)refused.StatusCode}: {body}");
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.Equal(before, upstream.Requests.Count(static r => r.PathAndQuery == "/v1/chat/completions"));

        // The operator's own providers are not subject to the catalog's policy: the configured model on the same
        // loopback upstream still answers through the guarded replica.
        using var configured = await ChatAsync(guarded, "gpt-4o-mini");
        Assert.Equal(HttpStatusCode.OK, configured.StatusCode);
    }

    [Theory]
    [InlineData("127.0.0.1", false, false, false)]
    [InlineData("127.0.0.1", true, false, true)]
    [InlineData("10.1.2.3", false, false, false)]
    [InlineData("10.1.2.3", false, true, true)]
    [InlineData("172.20.0.1", false, false, false)]
    [InlineData("192.168.1.1", false, false, false)]
    [InlineData("169.254.169.254", false, false, false)]
    [InlineData("100.64.0.1", false, false, false)]
    [InlineData("::1", false, false, false)]
    [InlineData("fe80::1", false, false, false)]
    [InlineData("fd00::1", false, false, false)]
    [InlineData("::ffff:10.0.0.1", false, false, false)]
    [InlineData("8.8.8.8", false, false, true)]
    [InlineData("2606:4700:4700::1111", false, false, true)]
    public void The_policy_allows_loopback_and_private_addresses_only_when_asked(string address, bool loopback, bool @private, bool allowed) =>
        Assert.Equal(allowed, new OutboundAddressPolicy(loopback, @private).IsAllowed(IPAddress.Parse(address)));

    private static Task<HttpResponseMessage> ChatAsync(GatewayHost host, string model) =>
        host.Client.PostAsJsonAsync("v1/chat/completions", new { model, messages = new[] { new { role = "user", content = "hello" } } });
}
