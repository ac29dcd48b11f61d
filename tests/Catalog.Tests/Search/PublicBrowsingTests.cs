using System.Net;
using LlmMarketplace.Gateway.Tests.Infrastructure;

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
    }
}
