using LlmMarketplace.Catalog.Tests.Publishing;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Catalog.Tests.Routing;

/// <summary>
/// Listings of every kind the gateway calls are routable and metered like configured models (a Cohere reranker through
/// <c>/v1/rerank</c>, priced per search unit); a listing of a kind it does not call says why on its service page.
/// </summary>
public sealed class CallableKindsTests
{
    private const decimal PerSearchUnit = 0.0025m;

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {expected}, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static object Listing(string slug, string kind, string baseUrl, string type) => new
    {
        slug,
        version = "1.0.0",
        name = "Acme " + kind,
        description = "A " + kind + " service for the tests of callable kinds.",
        publisher = "acme",
        category = "retrieval",
        kind,
        pricing = new { perSearchUnit = PerSearchUnit },
        deployments = new[] { new { provider = "acme-rerank", type, upstreamModel = "rerank-v3.5", baseUrl } },
    };

    private static async Task PublishAsync(GatewayHost host, string serviceId)
    {
        var submitted = await JsonAsync(await host.Client.PostAsync($"api/v1/services/{serviceId}/versions/1.0.0/submit", null), HttpStatusCode.OK);
        var versionId = submitted.GetProperty("id").GetString()!;
        var approved = await JsonAsync(await host.Client.PostAsJsonAsync($"api/v1/approvals/{versionId}/approve", new { reason = "ok" }), HttpStatusCode.OK);
        Assert.Equal("published", approved.GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_reranker_listing_is_routable_through_v1_rerank_and_metered_per_search_unit()
    {
        await using var upstream = await FakeUpstream.StartAsync(static (ctx, _) => FakeUpstream.Received(ctx).PathAndQuery == "/v2/rerank"
            ? FakeUpstream.Json(ctx, """{"id":"r-1","results":[{"index":1,"relevance_score":0.9},{"index":0,"relevance_score":0.1}],"meta":{"billed_units":{"search_units":1}}}""")
            : FakeUpstream.Json(ctx, """{"message":"not found"}""", StatusCodes.Status404NotFound));
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), PublishingFlowTests.DevelopmentCatalog);
        var slug = "acme/rerank-" + Guid.NewGuid().ToString("N")[..8];
        var created = await JsonAsync(await host.Client.PostAsJsonAsync("api/v1/services", Listing(slug, "reranker", upstream.BaseUrl, "cohere")), HttpStatusCode.Created);
        var serviceId = created.GetProperty("id").GetString()!;
        Assert.False(created.TryGetProperty("notCallable", out var reason) && reason.ValueKind == JsonValueKind.String, created.ToString());

        await PublishAsync(host, serviceId);
        HttpResponseMessage? rerank = null;
        await Wait.UntilAsync(async () =>
        {
            rerank?.Dispose();
            rerank = await host.Client.PostAsJsonAsync("v1/rerank", new { model = slug, query = "fox", documents = new[] { "a dog", "a fox" } });
            return rerank.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(10), "the published reranker to become routable");

        var answer = await JsonAsync(rerank!, HttpStatusCode.OK);
        Assert.Equal(1, answer.GetProperty("results")[0].GetProperty("index").GetInt32());
        Assert.Contains(upstream.Requests, static r => r.PathAndQuery == "/v2/rerank" && r.Json.GetProperty("model").GetString() == "rerank-v3.5");
        var requestId = rerank!.Headers.GetValues("x-request-id").Single();
        var usage = await JsonAsync(await host.Client.GetAsync($"api/v1/usage?requestId={requestId}"), HttpStatusCode.OK);
        var record = usage.GetProperty("data").EnumerateArray().Single();
        Assert.Equal(slug, record.GetProperty("listing").GetString());
        Assert.Equal(PerSearchUnit, record.GetProperty("costUsd").GetDecimal());
        rerank.Dispose();
    }

    [Fact]
    public async Task A_listing_of_a_kind_the_gateway_does_not_call_says_why()
    {
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI("http://127.0.0.1:9/v1"), PublishingFlowTests.DevelopmentCatalog);
        var slug = "acme/api-" + Guid.NewGuid().ToString("N")[..8];
        var listing = new
        {
            slug,
            version = "1.0.0",
            name = "Acme weather API",
            description = "An HTTP API described by OpenAPI.",
            publisher = "acme",
            category = "tools",
            kind = "openapi",
            openApi = """{"openapi":"3.1.0","info":{"title":"Weather","version":"1"},"paths":{"/weather":{"get":{"responses":{"200":{"description":"The weather."}}}}}}""",
        };
        var created = await JsonAsync(await host.Client.PostAsJsonAsync("api/v1/services", listing), HttpStatusCode.Created);
        var serviceId = created.GetProperty("id").GetString()!;
        await PublishAsync(host, serviceId);

        await Wait.UntilAsync(async () =>
        {
            var service = await JsonAsync(await host.Client.GetAsync($"api/v1/services/{serviceId}"), HttpStatusCode.OK);
            return service.TryGetProperty("notCallable", out var why) && why.GetString() == "kind 'openapi' is not served by the gateway";
        }, TimeSpan.FromSeconds(10), "the service to say why it is not callable");
        using var call = await host.Client.PostAsJsonAsync("v1/chat/completions", new { model = slug, messages = new[] { new { role = "user", content = "hi" } } });
        Assert.Equal(HttpStatusCode.NotFound, call.StatusCode);
    }
}
