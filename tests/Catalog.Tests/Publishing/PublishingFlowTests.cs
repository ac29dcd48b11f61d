using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Catalog.Tests.Publishing;

/// <summary>Publishing end to end through the HTTP API: submit, checks against a real loopback upstream, approve, route, deprecate, retire.</summary>
public sealed class PublishingFlowTests
{
    internal static readonly Dictionary<string, string?> DevelopmentCatalog = new() { ["Catalog:AllowLoopbackEndpoints"] = "true" };

    /// <summary>An OpenAI-compatible upstream that lists models and answers chats.</summary>
    internal static Task<FakeUpstream> StartUpstreamAsync() => FakeUpstream.StartAsync(static async (context, _) =>
    {
        if (context.Request.Method == "GET" && context.Request.Path == "/v1/models")
        {
            await FakeUpstream.Json(context, """{"object":"list","data":[{"id":"tiny-1","object":"model"}]}""");
            return;
        }
        if (context.Request.Path == "/v1/chat/completions")
        {
            var model = FakeUpstream.Received(context).Json.GetProperty("model").GetString();
            await FakeUpstream.Json(context, $$$"""{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"{{{model}}}","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}""");
            return;
        }
        context.Response.StatusCode = StatusCodes.Status404NotFound;
    });

    internal static JsonObject Listing(string slug, string baseUrl, string version = "1.0.0", string publisher = "acme")
    {
        var listing = TestListings.Chat(slug, baseUrl, "Acme Tiny Chat", "A tiny **chat** model for tests of the publishing flow.", publisher, version);
        listing["tags"] = new JsonArray("tests", "tiny");
        listing["deployments"]![0]!["dataResidency"] = "EU";
        listing["compliance"] = new JsonObject { ["certifications"] = new JsonArray("SOC2"), ["zeroRetention"] = true, ["maxDataClassification"] = "internal" };
        listing["sla"] = new JsonObject { ["p95LatencyMs"] = 800, ["uptimePercent"] = 99.9 };
        return listing;
    }

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {expected}, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static Task<HttpResponseMessage> ChatAsync(GatewayHost host, string model) =>
        host.Client.PostAsJsonAsync("v1/chat/completions", new { model, messages = new[] { new { role = "user", content = "hello" } } });

    [Theory]
    [OnEachStorage]
    public async Task A_listing_goes_from_draft_to_routable_to_deprecated_to_retired(string provider)
    {
        await using var upstream = await StartUpstreamAsync();
        var settings = new Dictionary<string, string?>(DevelopmentCatalog);
        if (provider == "postgres")
        {
            await using var database = await TestDatabases.CreateAsync(provider);
            settings["Storage:Provider"] = "postgres";
            settings["Storage:ConnectionString"] = database.ConnectionString;
        }
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), settings);
        var slug = "acme/tiny-" + Guid.NewGuid().ToString("N")[..8];

        var created = await JsonAsync(await host.Client.PostAsJsonAsync("api/v1/services", Listing(slug, upstream.BaseUrl + "/v1")), HttpStatusCode.Created);
        var serviceId = created.GetProperty("id").GetString()!;
        Assert.Equal("draft", created.GetProperty("versions")[0].GetProperty("state").GetString());

        // Not routable while a draft.
        Assert.Equal(HttpStatusCode.NotFound, (await ChatAsync(host, slug)).StatusCode);

        var submitted = await JsonAsync(await host.Client.PostAsync($"api/v1/services/{serviceId}/versions/1.0.0/submit", null), HttpStatusCode.OK);
        Assert.Equal("pending_approval", submitted.GetProperty("state").GetString());
        var checks = submitted.GetProperty("checks");
        Assert.True(checks.GetProperty("passed").GetBoolean(), checks.ToString());
        var deployment = checks.GetProperty("deployments")[0];
        Assert.Equal("pass", deployment.GetProperty("health").GetProperty("status").GetString());
        Assert.Equal("pass", deployment.GetProperty("conformance").GetProperty("status").GetString());
        Assert.True(deployment.GetProperty("latencyMs").GetDouble() > 0);
        Assert.Contains(upstream.Requests, static r => r.Method == "POST" && r.PathAndQuery == "/v1/chat/completions" && r.Json.GetProperty("model").GetString() == "tiny-1");
        var versionId = submitted.GetProperty("id").GetString()!;

        var pending = await JsonAsync(await host.Client.GetAsync("api/v1/approvals"), HttpStatusCode.OK);
        Assert.Contains(pending.GetProperty("data").EnumerateArray(), v => v.GetProperty("id").GetString() == versionId);

        var approved = await JsonAsync(await host.Client.PostAsJsonAsync($"api/v1/approvals/{versionId}/approve", new { reason = "checks look good" }), HttpStatusCode.OK);
        Assert.Equal("published", approved.GetProperty("state").GetString());
        Assert.Equal(["draft", "pending_approval", "published"], approved.GetProperty("history").EnumerateArray().Select(static h => h.GetProperty("to").GetString()!).ToArray());
        // Every step is in the platform audit trail.
        var audit = await host.Client.GetStringAsync("api/v1/audit?limit=100");
        Assert.Contains("catalog.version.approved", audit, StringComparison.Ordinal);
        Assert.Contains("catalog.version.submitted", audit, StringComparison.Ordinal);

        // Routable under its slug, listed in /v1/models with its lifecycle and deployments.
        await Wait.UntilAsync(() => ChatAsync(host, slug).Result.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(10), "the published listing to become routable");
        var chat = await ChatAsync(host, slug);
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        Assert.False(chat.Headers.Contains("Deprecation"));
        // Its usage record names the listing and the version it was routed to.
        var requestId = chat.Headers.GetValues("x-request-id").Single();
        var usage = await JsonAsync(await host.Client.GetAsync($"api/v1/usage?requestId={requestId}"), HttpStatusCode.OK);
        var record = usage.GetProperty("data").EnumerateArray().Single();
        Assert.Equal(slug, record.GetProperty("listing").GetString());
        Assert.Equal("1.0.0", record.GetProperty("listingVersion").GetString());
        var byListing = await JsonAsync(await host.Client.GetAsync($"api/v1/usage?listing={Uri.EscapeDataString(slug)}&groupBy=listing"), HttpStatusCode.OK);
        Assert.Equal(slug, byListing.GetProperty("data")[0].GetProperty("key").GetString());
        var models = await JsonAsync(await host.Client.GetAsync("v1/models"), HttpStatusCode.OK);
        var listed = models.GetProperty("data").EnumerateArray().Single(m => m.GetProperty("id").GetString() == slug);
        Assert.Equal("published", listed.GetProperty("lifecycle").GetProperty("state").GetString());
        Assert.Equal("acme-cloud", listed.GetProperty("deployments")[0].GetProperty("provider").GetString());
        Assert.Equal("0.0000005", listed.GetProperty("pricing").GetProperty("prompt").GetString());
        Assert.Equal(8192, listed.GetProperty("context_length").GetInt32());

        // Deprecate: calls carry Deprecation and Sunset.
        var sunset = DateTimeOffset.UtcNow.AddDays(30);
        var deprecated = await JsonAsync(await host.Client.PostAsJsonAsync($"api/v1/services/{serviceId}/versions/1.0.0/deprecate", new { sunset, reason = "replaced soon" }), HttpStatusCode.OK);
        Assert.Equal("deprecated", deprecated.GetProperty("state").GetString());
        await Wait.UntilAsync(() => ChatAsync(host, slug).Result.Headers.Contains("Deprecation"), TimeSpan.FromSeconds(10), "the Deprecation header");
        var old = await ChatAsync(host, slug);
        Assert.Equal(HttpStatusCode.OK, old.StatusCode);
        Assert.StartsWith("@", old.Headers.GetValues("Deprecation").Single(), StringComparison.Ordinal);
        Assert.Equal(sunset.ToString("r", System.Globalization.CultureInfo.InvariantCulture), old.Headers.GetValues("Sunset").Single());

        // Retire: not routable any more.
        var retired = await JsonAsync(await host.Client.PostAsync($"api/v1/services/{serviceId}/versions/1.0.0/retire", null), HttpStatusCode.OK);
        Assert.Equal("retired", retired.GetProperty("state").GetString());
        await Wait.UntilAsync(() => ChatAsync(host, slug).Result.StatusCode == HttpStatusCode.NotFound, TimeSpan.FromSeconds(10), "the retired listing to leave the gateway");
        var gone = await JsonAsync(await ChatAsync(host, slug), HttpStatusCode.NotFound);
        Assert.Equal("model_not_found", gone.GetProperty("error").GetProperty("code").GetString());

        // A retired version cannot come back.
        var illegal = await JsonAsync(await host.Client.PostAsJsonAsync($"api/v1/services/{serviceId}/versions/1.0.0/deprecate", new { sunset }), HttpStatusCode.UnprocessableEntity);
        Assert.Contains("retired", illegal.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_new_version_takes_over_the_slug_and_the_old_one_stays_reachable_pinned()
    {
        await using var upstream = await StartUpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"),
            new Dictionary<string, string?>(DevelopmentCatalog) { ["Catalog:TrustedPublishers:0"] = "trusted-team" });
        var slug = "trusted/tiny-" + Guid.NewGuid().ToString("N")[..8];
        var created = await JsonAsync(await host.Client.PostAsJsonAsync("api/v1/services", Listing(slug, upstream.BaseUrl + "/v1", publisher: "trusted-team")), HttpStatusCode.Created);
        var id = created.GetProperty("id").GetString()!;

        // Trusted publisher: published on submit once the checks pass.
        var v1 = await JsonAsync(await host.Client.PostAsync($"api/v1/services/{id}/versions/1.0.0/submit", null), HttpStatusCode.OK);
        Assert.Equal("published", v1.GetProperty("state").GetString());
        Assert.Equal("auto-approval", v1.GetProperty("approvals")[0].GetProperty("approver").GetString());

        var v2Body = JsonSerializer.SerializeToNode(Listing(slug, upstream.BaseUrl + "/v1", "1.1.0", "trusted-team"))!.AsObject();
        v2Body["deployments"]![0]!["upstreamModel"] = "tiny-2";
        await JsonAsync(await host.Client.PostAsJsonAsync($"api/v1/services/{id}/versions", v2Body), HttpStatusCode.Created);
        await JsonAsync(await host.Client.PostAsync($"api/v1/services/{id}/versions/1.1.0/submit", null), HttpStatusCode.OK);

        await Wait.UntilAsync(() => upstream.Requests.Any(static r => r.PathAndQuery == "/v1/chat/completions" && r.Json.GetProperty("messages")[0].GetProperty("content").GetString() == "hello"
            && r.Json.GetProperty("model").GetString() == "tiny-2") || ChatAsync(host, slug).Result.StatusCode == HttpStatusCode.OK && upstream.Requests.Last().Json.GetProperty("model").GetString() == "tiny-2",
            TimeSpan.FromSeconds(10), "the slug to route to 1.1.0");
        var pinned = await ChatAsync(host, slug + "@1.0.0");
        Assert.Equal(HttpStatusCode.OK, pinned.StatusCode);
        Assert.Equal("tiny-1", upstream.Requests.Last().Json.GetProperty("model").GetString());

        // Duplicate version: 409.
        var dup = await JsonAsync(await host.Client.PostAsJsonAsync($"api/v1/services/{id}/versions", v2Body), HttpStatusCode.Conflict);
        Assert.Contains("1.1.0", dup.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
