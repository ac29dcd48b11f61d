using LlmMarketplace.Insights.Analytics;

namespace LlmMarketplace.Insights.Tests.Analytics;

/// <summary>Rollups against the raw usage records they were built from: sums equal, percentiles within the sketch's error.</summary>
public sealed class RollupTests
{
    private const string Range = "from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";

    [Theory]
    [OnEachStorage]
    public async Task Analytics_match_the_raw_usage_records(string storage)
    {
        await using var db = await TestStorage.CreateAsync(storage);
        await using var upstream = await UpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), db.Overrides);
        var a = await TeamWithKeyAsync(host, "alpha");
        var b = await TeamWithKeyAsync(host, "beta");
        using var clientA = ClientWithKey(host, a.Key);
        using var clientB = ClientWithKey(host, b.Key);
        for (var i = 0; i < 45; i++)
        {
            await ChatAsync(i % 3 == 0 ? clientB : clientA, prompt: i % 9 == 4 ? FailingPrompt : "hello");
        }

        var records = await UsageAsync(host);
        Assert.Equal(45, records.Count);
        Assert.Contains(records, static r => r.GetProperty("status").GetInt32() >= 500);
        var summary = await UntilAsync(() => GetJsonAsync(host.Client, $"api/v1/analytics/summary?{Range}"),
            s => s.GetProperty("data")[0].GetProperty("requests").GetInt64() == records.Count, "every record rolled up");
        AssertMatches(records, summary.GetProperty("data")[0]);

        // Per team: a breakdown equals the records of each team.
        var byTeam = await GetJsonAsync(host.Client, $"api/v1/analytics/breakdown?by=team&{Range}");
        var groups = byTeam.GetProperty("data").EnumerateArray().ToDictionary(static g => g.GetProperty("group").GetString()!);
        Assert.Equal(2, groups.Count);
        AssertMatches(records.Where(r => r.GetProperty("teamId").GetString() == a.TeamId).ToList(), groups[a.TeamId]);
        AssertMatches(records.Where(r => r.GetProperty("teamId").GetString() == b.TeamId).ToList(), groups[b.TeamId]);

        // The time series per minute and per hour add up to the same totals.
        foreach (var interval in new[] { "minute", "hour", "day" })
        {
            var to = DateTimeOffset.UtcNow.AddMinutes(2).ToString("O", CultureInfo.InvariantCulture);
            var from = DateTimeOffset.UtcNow.AddHours(-2).ToString("O", CultureInfo.InvariantCulture);
            var series = await GetJsonAsync(host.Client, $"api/v1/analytics/timeseries?interval={interval}&from={Uri.EscapeDataString(from)}&to={Uri.EscapeDataString(to)}");
            var points = series.GetProperty("data").EnumerateArray().ToList();
            Assert.Equal(records.Count, points.Sum(static p => p.GetProperty("requests").GetInt64()));
            Assert.Equal(records.Sum(static r => r.GetProperty("promptTokens").GetInt64()), points.Sum(static p => p.GetProperty("promptTokens").GetInt64()));
        }

        // A team member (here: the team's API key) sees only their team.
        using var mine = await clientA.GetAsync(new Uri($"api/v1/analytics/breakdown?by=team&{Range}", UriKind.Relative));
        var mineBody = JsonDocument.Parse(await mine.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(HttpStatusCode.OK, mine.StatusCode);
        var only = Assert.Single(mineBody.GetProperty("data").EnumerateArray());
        Assert.Equal(a.TeamId, only.GetProperty("group").GetString());

        // CSV export: a header and one line per group.
        using var csv = await host.Client.GetAsync(new Uri($"api/v1/analytics/breakdown?by=key&format=csv&{Range}", UriKind.Relative));
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        var lines = (await csv.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("time,group,requests,", lines[0], StringComparison.Ordinal);
        Assert.Equal(3, lines.Length);
        Assert.Contains(lines, l => l.Contains(a.KeyId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bad_parameters_are_all_reported_at_once()
    {
        await using var host = await GatewayHost.StartAsync("Providers: []\nModels: []\n");
        using var response = await host.Client.GetAsync(new Uri("api/v1/analytics/breakdown?by=colour&orderBy=vibes&from=yesterday&limit=0&format=xml", UriKind.Relative));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
        foreach (var name in new[] { "by", "orderBy", "from", "limit", "format" }) Assert.True(errors.TryGetProperty(name, out _), name);
    }

    private static void AssertMatches(List<JsonElement> records, JsonElement row)
    {
        Assert.Equal(records.Count, row.GetProperty("requests").GetInt64());
        Assert.Equal(records.Sum(static r => r.GetProperty("promptTokens").GetInt64()), row.GetProperty("promptTokens").GetInt64());
        Assert.Equal(records.Sum(static r => r.GetProperty("completionTokens").GetInt64()), row.GetProperty("completionTokens").GetInt64());
        Assert.Equal((double)records.Sum(static r => r.GetProperty("costUsd").GetDecimal()), (double)row.GetProperty("costUsd").GetDecimal(), 9);
        var statuses = records.Select(static r => r.GetProperty("status").GetInt32()).ToList();
        Assert.Equal(statuses.Count(static s => s >= 500), row.GetProperty("errorsServer").GetInt64());
        Assert.Equal(statuses.Count(static s => s == 429), row.GetProperty("errorsRateLimited").GetInt64());
        Assert.Equal(statuses.Count(static s => s is >= 400 and < 500 and not 429), row.GetProperty("errorsClient").GetInt64());
        var latencies = records.Select(static r => r.GetProperty("latencyMs").GetDouble()).Order().ToList();
        foreach (var (q, name) in new[] { (0.5, "latencyP50Ms"), (0.95, "latencyP95Ms"), (0.99, "latencyP99Ms") })
        {
            var exact = latencies[(int)Math.Floor(q * (latencies.Count - 1))];
            var estimate = row.GetProperty(name).GetDouble();
            // The sketch's relative error, plus the API's rounding to a thousandth of a millisecond.
            Assert.True(Math.Abs(estimate - exact) <= (DDSketch.RelativeAccuracy * exact) + 0.001, $"{name}: {estimate} vs exact {exact}");
        }
    }
}
