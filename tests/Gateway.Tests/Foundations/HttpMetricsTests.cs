namespace LlmMarketplace.Gateway.Tests.Foundations;

/// <summary>The host times every HTTP request, whatever module serves it, and /metrics keeps to what operators need.</summary>
public sealed class HttpMetricsTests
{
    [Fact]
    public async Task Every_request_is_counted_by_route_and_fifty_portal_loads_add_no_portal_internal_series()
    {
        await using var host = await GatewayHost.StartAsync("Providers: []\nModels: []\n");
        using var browser = new HttpClient { BaseAddress = host.BaseAddress };
        for (var i = 0; i < 50; i++)
        {
            using var page = await browser.GetAsync(new Uri("login", UriKind.Relative));
            page.EnsureSuccessStatusCode();
        }
        using var search = await host.Client.GetAsync(new Uri("api/v1/search?q=chat", UriKind.Relative));
        search.EnsureSuccessStatusCode();

        var lines = (await host.Client.GetStringAsync(new Uri("metrics", UriKind.Relative))).Split('\n');

        var logins = lines.Single(static l => l.StartsWith("marketplace_api_requests_total{", StringComparison.Ordinal)
            && l.Contains("http_route=\"/login\"", StringComparison.Ordinal) && l.Contains("http_response_status_code=\"200\"", StringComparison.Ordinal));
        Assert.True(double.Parse(logins[(logins.IndexOf('}', StringComparison.Ordinal) + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) >= 50, logins);
        Assert.Contains(lines, static l => l.StartsWith("marketplace_search_duration_seconds_count{", StringComparison.Ordinal));
        // Routes are templates, never paths; Blazor's per-component histograms stay out unless Telemetry:PortalMetrics asks.
        Assert.DoesNotContain(lines, static l => l.Contains("http_route=\"/api/v1/search?", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, static l => l.StartsWith("aspnetcore_components_", StringComparison.Ordinal));
    }
}
