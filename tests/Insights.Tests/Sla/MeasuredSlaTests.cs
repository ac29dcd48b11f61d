namespace LlmMarketplace.Insights.Tests.Sla;

/// <summary>
/// The measured service level Catalog shows consumers (service detail and search results), read from Insights' rollups
/// of real calls through the gateway to a Kestrel upstream.
/// </summary>
public sealed class MeasuredSlaTests
{
    [Theory]
    [OnEachStorage]
    public async Task Service_detail_and_search_report_what_calls_through_the_gateway_measured_and_null_without_traffic(string storage)
    {
        await using var db = await TestStorage.CreateAsync(storage);
        db.Overrides["Catalog:AllowLoopbackEndpoints"] = "true";
        db.Overrides["Insights:SlaMinRequests"] = "5";
        // Every read goes to the rollups, so the test sees each batch as soon as it is rolled up.
        db.Overrides["Insights:ServiceLevelRefresh"] = "00:00:00";
        await using var upstream = await UpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), db.Overrides);
        var word = "zq" + Guid.NewGuid().ToString("N")[..8];
        var busy = await PublishAsync(host, upstream, "acme/busy-" + word, $"Busy {word} Chat", new { p95LatencyMs = 60_000, uptimePercent = 99.0 });
        var idle = await PublishAsync(host, upstream, "acme/idle-" + word, $"Idle {word} Chat", new { p95LatencyMs = 500, uptimePercent = 99.5 });
        await UntilAsync(() => GetJsonAsync(host.Client, "v1/models"),
            m => m.GetProperty("data").EnumerateArray().Count(x => x.GetProperty("id").GetString() is { } id && (id == busy || id == idle)) == 2,
            "both listings to be routable");

        // No traffic yet: the measurement is there, every figure null.
        var before = await ServiceAsync(host, busy);
        Assert.Equal(60_000, before.GetProperty("sla").GetProperty("p95LatencyMs").GetDouble());
        Assert.Equal(99.0, before.GetProperty("sla").GetProperty("uptimePercent").GetDouble());
        AssertNoTraffic(before.GetProperty("measuredSla"));
        Assert.Equal("30d", before.GetProperty("measuredSla").GetProperty("window").GetString());
        Assert.Equal(JsonValueKind.Null, before.GetProperty("measuredSla").GetProperty("since").ValueKind);

        // Five good calls: all up, judged (5 calls is enough here) and within both targets.
        var started = DateTimeOffset.UtcNow;
        for (var i = 0; i < 5; i++) Assert.Equal(HttpStatusCode.OK, await ChatAsync(host.Client, busy));
        var healthy = (await UntilAsync(() => ServiceAsync(host, busy), static s => s.GetProperty("measuredSla").GetProperty("requests").GetInt64() >= 5,
            "the five calls to be measured")).GetProperty("measuredSla");
        Assert.Equal(5, healthy.GetProperty("requests").GetInt64());
        Assert.Equal(100.0, healthy.GetProperty("uptimePercent").GetDouble());
        Assert.True(healthy.GetProperty("meetsTarget").GetBoolean());
        var since = healthy.GetProperty("since").GetDateTimeOffset();
        // The start of the earliest bucket with traffic: a minute bucket, or the hour when the calls fell in its last minute.
        Assert.True(since <= DateTimeOffset.UtcNow && since > started.AddHours(-1), $"since {since:O}, calls started {started:O}");

        // Five more, two of which the upstream fails: 8 of 10 up, below the 99 % promised.
        for (var i = 0; i < 5; i++)
        {
            var status = await ChatAsync(host.Client, busy, i % 2 == 0 ? "hello" : FailingPrompt);
            Assert.True(i % 2 == 0 ? status == HttpStatusCode.OK : (int)status >= 500, $"call {i} answered {(int)status}");
        }
        var degraded = (await UntilAsync(() => ServiceAsync(host, busy), static s => s.GetProperty("measuredSla").GetProperty("requests").GetInt64() >= 10,
            "the ten calls to be measured")).GetProperty("measuredSla");
        Assert.Equal(10, degraded.GetProperty("requests").GetInt64());
        Assert.Equal(80.0, degraded.GetProperty("uptimePercent").GetDouble());
        Assert.False(degraded.GetProperty("meetsTarget").GetBoolean());

        // The p95 is the one of the latencies Access recorded for these calls (sketches are within 1%).
        var latencies = (await UsageAsync(host)).Where(u => u.GetProperty("model").GetString() == busy)
            .Select(static u => u.GetProperty("latencyMs").GetDouble()).Order().ToList();
        Assert.Equal(10, latencies.Count);
        var p95 = degraded.GetProperty("p95LatencyMs").GetDouble();
        // rank 0.95 × (10 − 1) = 8.55: between the ninth and the tenth smallest latency.
        Assert.InRange(p95, latencies[8] * 0.99, latencies[9] * 1.01);

        // Search carries the same figures for the busy listing and nulls for the idle one, from one search.
        var search = await GetJsonAsync(host.Client, "api/v1/search?q=" + word);
        var results = search.GetProperty("results").EnumerateArray().ToDictionary(static r => r.GetProperty("slug").GetString()!);
        // Hybrid search may add semantic neighbours (the configured models) once their embeddings exist: both listings are there.
        Assert.True(results.ContainsKey(busy) && results.ContainsKey(idle), string.Join(", ", results.Keys));
        var busyCard = results[busy].GetProperty("measuredSla");
        Assert.Equal(10, busyCard.GetProperty("requests").GetInt64());
        Assert.Equal(80.0, busyCard.GetProperty("uptimePercent").GetDouble());
        Assert.Equal(p95, busyCard.GetProperty("p95LatencyMs").GetDouble());
        Assert.False(busyCard.GetProperty("meetsTarget").GetBoolean());
        Assert.Equal(99.0, results[busy].GetProperty("sla").GetProperty("uptimePercent").GetDouble());
        AssertNoTraffic(results[idle].GetProperty("measuredSla"));
        AssertNoTraffic((await ServiceAsync(host, idle)).GetProperty("measuredSla"));

        // Similar listings carry it too.
        var similar = await GetJsonAsync(host.Client, $"api/v1/services/{Uri.EscapeDataString(idle)}/similar");
        var busyAsSimilar = similar.GetProperty("results").EnumerateArray().Single(r => r.GetProperty("slug").GetString() == busy);
        Assert.Equal(10, busyAsSimilar.GetProperty("measuredSla").GetProperty("requests").GetInt64());

        // The API document names the new fields.
        var openApi = await host.Client.GetStringAsync(new Uri("openapi/v1.json", UriKind.Relative));
        Assert.Contains("\"measuredSla\"", openApi, StringComparison.Ordinal);
        Assert.Contains("\"meetsTarget\"", openApi, StringComparison.Ordinal);
    }

    private static void AssertNoTraffic(JsonElement measured)
    {
        Assert.Equal(0, measured.GetProperty("requests").GetInt64());
        Assert.Equal(JsonValueKind.Null, measured.GetProperty("p95LatencyMs").ValueKind);
        Assert.Equal(JsonValueKind.Null, measured.GetProperty("uptimePercent").ValueKind);
        Assert.Equal(JsonValueKind.Null, measured.GetProperty("meetsTarget").ValueKind);
    }

    private static Task<JsonElement> ServiceAsync(GatewayHost host, string slug) => GetJsonAsync(host.Client, "api/v1/services/" + Uri.EscapeDataString(slug));

    private static async Task<string> PublishAsync(GatewayHost host, FakeUpstream upstream, string slug, string name, object sla)
    {
        var listing = TestListings.Chat(slug, upstream.BaseUrl + "/v1", name, "A chat model whose measured service level the tests read.");
        listing["sla"] = JsonSerializer.SerializeToNode(sla);
        var created = await PostJsonAsync(host.Client, "api/v1/services", listing);
        var serviceId = created.GetProperty("id").GetString()!;
        var submitted = await PostJsonAsync(host.Client, $"api/v1/services/{serviceId}/versions/1.0.0/submit", new { }, HttpStatusCode.OK);
        await PostJsonAsync(host.Client, $"api/v1/approvals/{submitted.GetProperty("id").GetString()}/approve", new { reason = "ok" }, HttpStatusCode.OK);
        return slug;
    }
}
