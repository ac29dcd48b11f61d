namespace LlmMarketplace.Catalog.Tests.Search;

public sealed class PublicBrowsingTests
{
    [Fact]
    public async Task With_public_browsing_search_answers_anonymous_callers_but_publishing_still_needs_credentials()
    {
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI("https://upstream.invalid/v1"), new Dictionary<string, string?> { ["Catalog:PublicBrowsing"] = "true" });
        using var anonymous = new HttpClient { BaseAddress = host.BaseAddress };
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("api/v1/search?q=x")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("api/v1/autocomplete?q=x")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("api/v1/services", new StringContent("{}"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("api/v1/catalog/import", new StringContent("{}"))).StatusCode);

        // A draft is visible to its publisher, not to anonymous browsers.
        var slug = "acme/draft-" + Guid.NewGuid().ToString("N")[..8];
        var created = await host.Client.PostAsJsonAsync("api/v1/services", new { slug, version = "1.0.0", name = "Draft", publisher = "acme", kind = "openapi", openApi = """{"openapi":"3.0.3","info":{"title":"x","version":"1"},"paths":{"/a":{"get":{"responses":{"200":{"description":"ok"}}}}}}""" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync($"api/v1/services/{Uri.EscapeDataString(slug)}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync($"api/v1/services/{Uri.EscapeDataString(slug)}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync($"api/v1/services/{Uri.EscapeDataString(slug)}/versions/1.0.0")).StatusCode);
    }
}
