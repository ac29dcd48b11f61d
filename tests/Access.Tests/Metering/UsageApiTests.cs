namespace LlmMarketplace.Access.Tests.Metering;

/// <summary><c>GET /api/v1/usage</c>: one record per request, newest first, paging, filters, grouping, CSV, and team visibility.</summary>
public class UsageApiTests() : AccessHostTests(new Usage(10, 5))
{
    [Fact]
    public async Task Every_request_has_one_record_newest_first_with_paging_and_filters()
    {
        var key = await CreateKeyAsync(Host, new { name = "paging", team = "paging-team-" + Guid.NewGuid().ToString("N") });
        var keyId = key.GetProperty("id").GetString()!;
        using var client = ClientWithKey(Host, key.GetProperty("key").GetString()!);
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var id = $"page-{i}-{Guid.NewGuid():N}";
            ids.Add(id);
            using var r = await ChatAsync(client, i % 2 == 0 ? "gpt-4o-mini" : "free-model", requestId: id);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(id, Header(r, "x-request-id"));
        }

        var all = await GetJsonAsync(Host.Client, $"api/v1/usage?keyId={keyId}");
        Assert.Equal(5, all.GetProperty("total").GetInt64());
        Assert.Equal(Enumerable.Reverse(ids).ToArray(), all.GetProperty("data").EnumerateArray().Select(static u => u.GetProperty("requestId").GetString()!).ToArray());

        var page = await GetJsonAsync(Host.Client, $"api/v1/usage?keyId={keyId}&limit=2&offset=1");
        Assert.Equal(5, page.GetProperty("total").GetInt64());
        Assert.Equal(new[] { ids[3], ids[2] }, page.GetProperty("data").EnumerateArray().Select(static u => u.GetProperty("requestId").GetString()!).ToArray());

        var free = await GetJsonAsync(Host.Client, $"api/v1/usage?keyId={keyId}&model=free-model");
        Assert.Equal(2, free.GetProperty("total").GetInt64());

        var byModel = await GetJsonAsync(Host.Client, $"api/v1/usage?keyId={keyId}&groupBy=model");
        var groups = byModel.GetProperty("data").EnumerateArray().ToDictionary(static g => g.GetProperty("key").GetString()!, static g => g.GetProperty("requests").GetInt64());
        Assert.Equal(3, groups["gpt-4o-mini"]);
        Assert.Equal(2, groups["free-model"]);

        var byDay = await GetJsonAsync(Host.Client, $"api/v1/usage?keyId={keyId}&groupBy=day");
        var day = Assert.Single(byDay.GetProperty("data").EnumerateArray());
        Assert.Equal(DateTimeOffset.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), day.GetProperty("key").GetString());
        Assert.Equal(5, day.GetProperty("requests").GetInt64());

        var future = await GetJsonAsync(Host.Client, $"api/v1/usage?keyId={keyId}&from={DateTimeOffset.UtcNow.AddHours(1):O}".Replace("+", "%2B", StringComparison.Ordinal));
        Assert.Equal(0, future.GetProperty("total").GetInt64());

        using var csv = await Host.Client.GetAsync($"api/v1/usage?keyId={keyId}&format=csv");
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        var lines = (await csv.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("requestId,", lines[0], StringComparison.Ordinal);
        Assert.Equal(6, lines.Length);
        Assert.StartsWith(ids[4] + ",", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_query_parameters_are_listed_together_and_limit_is_capped_at_10000()
    {
        using var ok = await Host.Client.GetAsync("api/v1/usage?limit=10000");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using var response = await Host.Client.GetAsync("api/v1/usage?limit=10001&offset=-1&from=yesterday&groupBy=hour&format=xml");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
        foreach (var field in new[] { "limit", "offset", "from", "groupBy", "format" })
        {
            Assert.True(errors.TryGetProperty(field, out _), $"missing error for {field}: {errors}");
        }
    }

    [Fact]
    public async Task A_team_member_sees_only_their_team_usage()
    {
        var a = await CreateKeyAsync(Host, new { name = "a", team = "usage-a-" + Guid.NewGuid().ToString("N") });
        var b = await CreateKeyAsync(Host, new { name = "b", team = "usage-b-" + Guid.NewGuid().ToString("N") });
        using var clientA = ClientWithKey(Host, a.GetProperty("key").GetString()!);
        using var clientB = ClientWithKey(Host, b.GetProperty("key").GetString()!);
        using (var r = await ChatAsync(clientA)) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using (var r = await ChatAsync(clientB)) Assert.Equal(HttpStatusCode.OK, r.StatusCode);

        var seenByA = await GetJsonAsync(clientA, "api/v1/usage");
        var keys = seenByA.GetProperty("data").EnumerateArray().Select(static u => u.GetProperty("keyId").GetString()).Distinct().ToList();
        Assert.Equal([a.GetProperty("id").GetString()], keys);
        var otherTeam = await GetJsonAsync(clientA, $"api/v1/usage?keyId={b.GetProperty("id").GetString()}");
        Assert.Equal(0, otherTeam.GetProperty("total").GetInt64());
    }
}

/// <summary>The same tests on PostgreSQL.</summary>
public sealed class UsageApiTestsOnPostgres : UsageApiTests
{
    protected override string Provider => "postgres";
}
