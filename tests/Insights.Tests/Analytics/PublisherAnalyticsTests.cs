namespace LlmMarketplace.Insights.Tests.Analytics;

/// <summary>
/// The team that publishes a listing reads the usage of its listing by other teams (real calls through the gateway to a
/// Kestrel upstream, rolled up), on SQLite and PostgreSQL; no other team does.
/// </summary>
public sealed class PublisherAnalyticsTests
{
    [Theory]
    [OnEachStorage]
    public async Task The_publishing_team_reads_its_listings_usage_by_other_teams_and_no_other_team_does(string storage)
    {
        await using var db = await TestStorage.CreateAsync(storage);
        db.Overrides["Catalog:AllowLoopbackEndpoints"] = "true";
        await using var upstream = await UpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), db.Overrides);
        var (publisherTeam, _, publisherKey) = await TeamWithKeyAsync(host, "publisher");
        var (consumerTeam, _, consumerKey) = await TeamWithKeyAsync(host, "consumer");
        var (_, _, bystanderKey) = await TeamWithKeyAsync(host, "bystander");
        using var publisher = ClientWithKey(host, publisherKey);
        using var consumer = ClientWithKey(host, consumerKey);
        using var bystander = ClientWithKey(host, bystanderKey);

        var slug = "acme/analysed-" + Guid.NewGuid().ToString("N")[..8];
        var created = await PostJsonAsync(host.Client, "api/v1/services", new
        {
            slug,
            version = "1.0.0",
            name = "Analysed Chat",
            description = "A chat model whose publisher reads its usage.",
            publisher = publisherTeam,
            category = "text-generation",
            kind = "chat",
            contextLength = 8192,
            pricing = new { inputPerMTok = 0.5m, outputPerMTok = 1.5m },
            deployments = new[] { new { provider = "acme-cloud", upstreamModel = "tiny-1", baseUrl = upstream.BaseUrl + "/v1", region = "eu-west" } },
            sla = new { p95LatencyMs = 60_000, uptimePercent = 99.0 },
        });
        var submitted = await PostJsonAsync(host.Client, $"api/v1/services/{created.GetProperty("id").GetString()}/versions/1.0.0/submit", new { }, HttpStatusCode.OK);
        await PostJsonAsync(host.Client, $"api/v1/approvals/{submitted.GetProperty("id").GetString()}/approve", new { reason = "ok" }, HttpStatusCode.OK);
        await UntilAsync(() => GetJsonAsync(consumer, "v1/models"), m => m.GetProperty("data").EnumerateArray().Any(x => x.GetProperty("id").GetString() == slug),
            "the listing to be routable");

        // Another team calls the listing: four answers and one server error.
        var from = DateTimeOffset.UtcNow.AddMinutes(-10);
        for (var i = 0; i < 4; i++) Assert.Equal(HttpStatusCode.OK, await ChatAsync(consumer, slug));
        Assert.True((int)await ChatAsync(consumer, slug, FailingPrompt) >= 500);
        var usage = (await UsageAsync(host)).Where(u => u.GetProperty("model").GetString() == slug).ToList();
        Assert.Equal(5, usage.Count);
        var cost = usage.Sum(static u => u.GetProperty("costUsd").GetDecimal());
        var tokens = usage.Sum(static u => u.GetProperty("promptTokens").GetInt64() + u.GetProperty("completionTokens").GetInt64());

        var range = $"from={Uri.EscapeDataString(from.ToString("O"))}&to={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(2).ToString("O"))}";
        var url = $"api/v1/analytics/publisher?listing={Uri.EscapeDataString(slug)}&{range}&interval=minute";
        var read = await UntilAsync(() => GetJsonAsync(publisher, url), static r => r.GetProperty("totals").GetProperty("requests").GetInt64() >= 5,
            "the five calls to be rolled up");
        var totals = read.GetProperty("totals");
        Assert.Equal(5, totals.GetProperty("requests").GetInt64());
        Assert.Equal(1, totals.GetProperty("errorsServer").GetInt64());
        Assert.Equal(tokens, totals.GetProperty("totalTokens").GetInt64());
        Assert.Equal(cost, totals.GetProperty("costUsd").GetDecimal());
        Assert.True(totals.GetProperty("latencyP95Ms").GetDouble() > 0);
        Assert.Equal(publisherTeam, read.GetProperty("publisher").GetString());
        Assert.StartsWith("publisher-", read.GetProperty("publisherName").GetString(), StringComparison.Ordinal);
        Assert.Equal(60_000, read.GetProperty("targetP95LatencyMs").GetDouble());
        Assert.Equal(99.0, read.GetProperty("targetUptimePercent").GetDouble());

        // The consuming team, by id and name, with what it used.
        var team = Assert.Single(read.GetProperty("teams").EnumerateArray());
        Assert.Equal(consumerTeam, team.GetProperty("team").GetString());
        Assert.StartsWith("consumer-", team.GetProperty("teamName").GetString(), StringComparison.Ordinal);
        Assert.Equal(5, team.GetProperty("requests").GetInt64());
        Assert.Equal(cost, team.GetProperty("costUsd").GetDecimal());

        // Every minute of the range is in the series, the empty ones as zeros; the service level per minute with calls.
        var series = read.GetProperty("series").EnumerateArray().ToList();
        var times = series.Select(static s => s.GetProperty("time").GetDateTimeOffset()).ToList();
        Assert.True(times.Count >= 12, $"{times.Count} buckets");
        Assert.All(times.Zip(times.Skip(1)), static p => Assert.Equal(TimeSpan.FromMinutes(1), p.Second - p.First));
        Assert.Equal(5, series.Sum(static s => s.GetProperty("requests").GetInt64()));
        Assert.Contains(series, static s => s.GetProperty("requests").GetInt64() == 0);
        var levels = read.GetProperty("serviceLevel").EnumerateArray().ToList();
        Assert.Equal(times.Count, levels.Count);
        Assert.All(levels.Where(static l => l.GetProperty("requests").GetInt64() == 0), static l => Assert.Equal(JsonValueKind.Null, l.GetProperty("uptimePercent").ValueKind));
        var measured = levels.Where(static l => l.GetProperty("requests").GetInt64() > 0).ToList();
        Assert.Equal(5, measured.Sum(static l => l.GetProperty("requests").GetInt64()));
        Assert.Equal(400.0, measured.Sum(static l => l.GetProperty("uptimePercent").GetDouble() * l.GetProperty("requests").GetInt64() / 100) * 100, 3);

        // Never the content of a call.
        Assert.DoesNotContain("hello", read.ToString(), StringComparison.Ordinal);

        // The publisher's listings: this one with its totals.
        var mine = await GetJsonAsync(publisher, "api/v1/analytics/publisher/listings?" + range);
        var listed = Assert.Single(mine.GetProperty("data").EnumerateArray());
        Assert.Equal(slug, listed.GetProperty("listing").GetString());
        Assert.Equal(5, listed.GetProperty("totals").GetProperty("requests").GetInt64());

        // Not the consumer's nor a bystander's: 403, and their listings do not include it. Admins read it.
        foreach (var other in new[] { consumer, bystander })
        {
            using var refused = await other.GetAsync(url);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            var theirs = await GetJsonAsync(other, "api/v1/analytics/publisher/listings?" + range);
            Assert.DoesNotContain(theirs.GetProperty("data").EnumerateArray(), l => l.GetProperty("listing").GetString() == slug);
        }
        Assert.Equal(5, (await GetJsonAsync(host.Client, url)).GetProperty("totals").GetProperty("requests").GetInt64());

        // An unknown listing is 404; no listing, or a bad interval, a 400 naming every error.
        using (var unknown = await publisher.GetAsync("api/v1/analytics/publisher?listing=acme%2Fnothing-here"))
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var bad = await publisher.GetAsync("api/v1/analytics/publisher?interval=week");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var errors = JsonDocument.Parse(await bad.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty("listing", out _));
        Assert.True(errors.TryGetProperty("interval", out _));
    }
}
