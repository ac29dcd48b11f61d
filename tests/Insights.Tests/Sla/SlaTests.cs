using System.Text.Json.Nodes;

namespace LlmMarketplace.Insights.Tests.Sla;

/// <summary>A published listing's SLA against what its calls measure: breaches become violations, counted and listed.</summary>
public sealed class SlaTests
{
    [Fact]
    public async Task A_listing_that_misses_its_uptime_and_latency_targets_gets_violations()
    {
        await using var upstream = await UpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), new Dictionary<string, string?>
        {
            ["Insights:SlaEvaluationInterval"] = "00:00:00",
            ["Insights:SlaMinRequests"] = "10",
            ["Catalog:AllowLoopbackEndpoints"] = "true",
            ["Insights:Webhooks:AllowLoopback"] = "true",
            ["Insights:Events:BatchDelay"] = "00:00:00.100",
        });
        var slug = "acme/sla-" + Guid.NewGuid().ToString("N")[..8];
        var listing = TestListings.Chat(slug, upstream.BaseUrl + "/v1", "Acme SLA Chat", "A chat model whose SLA the tests break.");
        // Unreachable on purpose: no call is that fast, and a fifth of the calls fail.
        listing["sla"] = new JsonObject { ["p95LatencyMs"] = 0.001, ["uptimePercent"] = 99.9 };
        var created = await PostJsonAsync(host.Client, "api/v1/services", listing);
        var serviceId = created.GetProperty("id").GetString()!;
        var submitted = await PostJsonAsync(host.Client, $"api/v1/services/{serviceId}/versions/1.0.0/submit", new { }, HttpStatusCode.OK);
        await PostJsonAsync(host.Client, $"api/v1/approvals/{submitted.GetProperty("id").GetString()}/approve", new { reason = "ok" }, HttpStatusCode.OK);
        await Wait.UntilAsync(() => ChatAsync(host.Client, slug).Result == HttpStatusCode.OK, TimeSpan.FromSeconds(10), "the listing to become routable");
        await using var receiver = await WebhookReceiver.StartAsync("sla-secret-0123456789", failFirst: 0);
        await PostJsonAsync(host.Client, "api/v1/alerts/webhooks", new { url = receiver.Url, kinds = new[] { "events" }, secret = receiver.Secret });

        for (var i = 0; i < 20; i++)
        {
            await ChatAsync(host.Client, slug, i % 5 == 0 ? FailingPrompt : "hello");
        }

        var violations = await UntilAsync(() => GetJsonAsync(host.Client, $"api/v1/sla/violations?listing={Uri.EscapeDataString(slug)}&open=true"),
            static v => v.GetProperty("data").GetArrayLength() == 2, "both SLA targets to be reported violated");
        var targets = violations.GetProperty("data").EnumerateArray().ToDictionary(static v => v.GetProperty("target").GetString()!);
        Assert.Equal(slug + "@1.0.0", targets["uptime_percent"].GetProperty("listing").GetString());
        Assert.Equal(99.9, targets["uptime_percent"].GetProperty("objective").GetDouble());
        Assert.True(targets["uptime_percent"].GetProperty("measured").GetDouble() < 90);
        Assert.True(targets["p95_latency_ms"].GetProperty("measured").GetDouble() > 0.001);

        // Emitted as events.
        await Wait.UntilAsync(() => receiver.Events.Where(static e => e.GetProperty("type").GetString() == "sla.violated").Select(static e => e.GetProperty("id").GetString()).Distinct().Count() == 2, TimeSpan.FromSeconds(30), "two sla.violated events");

        var status = await GetJsonAsync(host.Client, $"api/v1/sla?listing={Uri.EscapeDataString(slug)}");
        var measurement = Assert.Single(status.GetProperty("data").EnumerateArray());
        Assert.Equal(99.9, measurement.GetProperty("targetUptimePercent").GetDouble());
        Assert.Equal(2, measurement.GetProperty("violating").GetArrayLength());

        // Counted once per violation, whatever the number of evaluations since.
        await ChatAsync(host.Client, slug);
        var metrics = await host.Client.GetStringAsync(new Uri("metrics", UriKind.Relative));
        var line = metrics.Split('\n').Where(static l => l.StartsWith("marketplace_sla_violations_total{", StringComparison.Ordinal) && l.Contains("uptime_percent", StringComparison.Ordinal)).ToList();
        Assert.True(line.Count == 1, metrics.Length > 0 ? string.Join('\n', metrics.Split('\n').Where(static l => l.Contains("sla", StringComparison.Ordinal))) : "no metrics");
        Assert.EndsWith(" 1", line[0].Split(" # ")[0].TrimEnd(), StringComparison.Ordinal);
    }
}
