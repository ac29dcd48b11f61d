using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LlmMarketplace.Catalog.Search;
using LlmMarketplace.Catalog.Tests.Publishing;
using LlmMarketplace.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace LlmMarketplace.Catalog.Tests.Search;

public sealed class TrendingTests
{
    [Fact]
    public async Task Trending_ranks_listings_by_recent_successful_gateway_calls()
    {
        await using var upstream = await PublishingFlowTests.StartUpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"),
            new Dictionary<string, string?>(PublishingFlowTests.DevelopmentCatalog) { ["Catalog:TrustedPublishers:0"] = "acme" });
        var slugs = new List<string>();
        foreach (var name in new[] { "busy", "quiet" })
        {
            var slug = $"acme/{name}-{Guid.NewGuid().ToString("N")[..6]}";
            var created = JsonDocument.Parse(await (await host.Client.PostAsJsonAsync("api/v1/services", PublishingFlowTests.Listing(slug, upstream.BaseUrl + "/v1"))).Content.ReadAsStringAsync()).RootElement;
            var submitted = await host.Client.PostAsync($"api/v1/services/{created.GetProperty("id").GetString()}/versions/1.0.0/submit", null);
            Assert.Equal(HttpStatusCode.OK, submitted.StatusCode);
            slugs.Add(slug);
        }
        async Task<HttpStatusCode> ChatAsync(string model) => (await host.Client.PostAsJsonAsync("v1/chat/completions", new { model, messages = new[] { new { role = "user", content = "hi" } } })).StatusCode;
        await Wait.UntilAsync(() => ChatAsync(slugs[1]).Result == HttpStatusCode.OK, TimeSpan.FromSeconds(10), "the listings to become routable");
        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.OK, await ChatAsync(slugs[0]));

        var trending = JsonDocument.Parse(await host.Client.GetStringAsync("api/v1/trending")).RootElement.GetProperty("results");
        Assert.Equal(slugs[0], trending[0].GetProperty("slug").GetString());
        Assert.Equal(3, trending[0].GetProperty("calls").GetInt64());
        Assert.Equal(slugs[1], trending[1].GetProperty("slug").GetString());

        // Without team usage, recommendations fall back to what is trending.
        var recommended = JsonDocument.Parse(await host.Client.GetStringAsync("api/v1/recommendations")).RootElement.GetProperty("suggestions");
        Assert.Equal(slugs[0], recommended[0].GetProperty("slug").GetString());
    }

    [Fact]
    public void Calls_older_than_a_day_leave_the_trending_list()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero));
        var tracker = new UsageTracker(null!, time);
        tracker.Record("old", []);
        tracker.Record("old", []);
        time.Advance(TimeSpan.FromHours(20));
        tracker.Record("new", ["team-a"]);
        Assert.Equal(["old", "new"], tracker.Trending(10).Select(static t => t.ServiceId).ToArray());
        time.Advance(TimeSpan.FromHours(5));
        Assert.Equal(["new"], tracker.Trending(10).Select(static t => t.ServiceId).ToArray());
        Assert.Equal(["new"], tracker.UsedBy(["team-a", "team-b"]).ToArray());
    }
}
