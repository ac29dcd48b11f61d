namespace LlmMarketplace.Optimizer.Tests;

/// <summary><c>POST /v1/feedback</c> and <c>GET /api/v1/feedback</c> through the real host.</summary>
public sealed class FeedbackTests
{
    [Theory]
    [OnEachStorage]
    public async Task Feedback_is_stored_with_the_usage_facts_updated_in_place_and_queryable(string storage)
    {
        await using var db = await TestStorage.CreateAsync(storage);
        await using var upstream = await UpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), db.Overrides);
        var (keyId, key) = await CreateKeyAsync(host, "judge");
        using var client = ClientWithKey(host, key);
        var requestId = "req-" + Guid.NewGuid().ToString("N");
        using (await ChatAsync(client, "gpt-4o-mini", "Say hello", requestId)) { }

        var (created, first) = await FeedbackAsync(client, new { requestId, score = 0.8, comment = "fine" });
        Assert.Equal(HttpStatusCode.Created, created);
        Assert.Equal(0.8, first.GetProperty("score").GetDouble());
        Assert.Equal("gpt-4o-mini", first.GetProperty("model").GetString());
        Assert.Equal(keyId, first.GetProperty("keyId").GetString());
        Assert.True(first.GetProperty("costUsd").GetDecimal() > 0);

        // A second judgement replaces the first: one feedback per request.
        var (updated, second) = await FeedbackAsync(client, new { requestId, label = "bad" });
        Assert.Equal(HttpStatusCode.OK, updated);
        Assert.Equal(0.0, second.GetProperty("score").GetDouble());
        Assert.Equal("bad", second.GetProperty("label").GetString());

        using var list = await client.GetAsync(new Uri($"api/v1/feedback?requestId={requestId}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        var page = JsonDocument.Parse(await list.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(1, page.GetProperty("total").GetInt64());
        var row = Assert.Single(page.GetProperty("data").EnumerateArray());
        Assert.Equal(0.0, row.GetProperty("score").GetDouble());
        Assert.Equal("gpt-4o-mini", row.GetProperty("model").GetString());

        using var byModel = await host.Client.GetAsync(new Uri("api/v1/feedback?model=gpt-4o-mini", UriKind.Relative));
        Assert.Equal(1, JsonDocument.Parse(await byModel.Content.ReadAsStringAsync()).RootElement.GetProperty("total").GetInt64());
    }

    [Fact]
    public async Task Bad_feedback_is_refused_in_the_OpenAI_envelope_naming_the_parameter()
    {
        await using var upstream = await UpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"));
        var (_, key) = await CreateKeyAsync(host, "caller");
        var (_, otherKey) = await CreateKeyAsync(host, "someone-else");
        using var client = ClientWithKey(host, key);
        using var other = ClientWithKey(host, otherKey);
        var requestId = "req-" + Guid.NewGuid().ToString("N");
        using (await ChatAsync(client, "gpt-4o-mini", "Say hello", requestId)) { }

        await AssertErrorAsync(client, new { requestId = "req-never-made", score = 1 }, HttpStatusCode.NotFound, "requestId", "request_not_found");
        await AssertErrorAsync(client, new { requestId, score = 1.5 }, HttpStatusCode.BadRequest, "score", "invalid_value");
        await AssertErrorAsync(client, new { requestId, score = -0.1 }, HttpStatusCode.BadRequest, "score", "invalid_value");
        await AssertErrorAsync(client, new { requestId }, HttpStatusCode.BadRequest, "score", "invalid_value");
        await AssertErrorAsync(client, new { score = 1 }, HttpStatusCode.BadRequest, "requestId", "invalid_value");
        await AssertErrorAsync(client, new { requestId, label = "meh" }, HttpStatusCode.BadRequest, "label", "invalid_value");
        await AssertErrorAsync(client, new { requestId, score = "high" }, HttpStatusCode.BadRequest, "score", "invalid_value");
        // Another key's request reads as unknown.
        await AssertErrorAsync(other, new { requestId, score = 1 }, HttpStatusCode.NotFound, "requestId", "request_not_found");

        // Nothing was stored by the refusals; the admin may judge any call.
        using var none = await host.Client.GetAsync(new Uri($"api/v1/feedback?requestId={requestId}", UriKind.Relative));
        Assert.Equal(0, JsonDocument.Parse(await none.Content.ReadAsStringAsync()).RootElement.GetProperty("total").GetInt64());
        var (status, _) = await FeedbackAsync(host.Client, new { requestId, score = 1 });
        Assert.Equal(HttpStatusCode.Created, status);

        // The other key does not see it in the list either.
        using var hidden = await other.GetAsync(new Uri($"api/v1/feedback?requestId={requestId}", UriKind.Relative));
        Assert.Equal(0, JsonDocument.Parse(await hidden.Content.ReadAsStringAsync()).RootElement.GetProperty("total").GetInt64());

        using var badQuery = await host.Client.GetAsync(new Uri("api/v1/feedback?limit=0&from=yesterday", UriKind.Relative));
        Assert.Equal(HttpStatusCode.BadRequest, badQuery.StatusCode);
        var problem = JsonDocument.Parse(await badQuery.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
        Assert.True(problem.TryGetProperty("limit", out _));
        Assert.True(problem.TryGetProperty("from", out _));
    }

    private static async Task AssertErrorAsync(HttpClient client, object body, HttpStatusCode expected, string param, string code)
    {
        var (status, json) = await FeedbackAsync(client, body);
        Assert.Equal(expected, status);
        var error = json.GetProperty("error");
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
    }
}
