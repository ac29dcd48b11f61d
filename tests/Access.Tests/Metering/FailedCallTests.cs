namespace LlmMarketplace.Access.Tests.Metering;

/// <summary>Calls that fail still get their one usage record, with the status the client saw, and release what they reserved.</summary>
public sealed class FailedCallTests
{
    [Fact]
    public async Task Upstream_refusals_and_context_overflows_are_recorded_with_their_status()
    {
        await using var upstream = await FakeUpstream.StartAsync(static (context, _) =>
            FakeUpstream.Json(context, """{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":"bad_thing"}}""", 400));
        var config = Config(upstream.BaseUrl + "/v1").Replace("  - Name: free-model\n", "  - Name: free-model\n    ContextWindow: 5\n", StringComparison.Ordinal);
        await using var host = await GatewayHost.StartAsync(config);
        var key = await CreateKeyAsync(host, new { name = "failing", rpm = 100, tpm = 1000 });
        using var client = ClientWithKey(host, key.GetProperty("key").GetString()!);

        using (var refused = await ChatAsync(client, requestId: "upstream-400")) Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        using (var overflow = await ChatAsync(client, "free-model", requestId: "too-long", content: "a long prompt that will not fit in five tokens at all")) Assert.Equal(HttpStatusCode.BadRequest, overflow.StatusCode);

        var records = await UsageOfKeyAsync(host, key.GetProperty("id").GetString()!);
        Assert.Equal(["too-long", "upstream-400"], records.Select(static r => r.GetProperty("requestId").GetString()!).ToArray());
        Assert.All(records, static r => Assert.Equal(400, r.GetProperty("status").GetInt32()));
        Assert.All(records, static r => Assert.Equal(0m, r.GetProperty("costUsd").GetDecimal()));
    }
}
