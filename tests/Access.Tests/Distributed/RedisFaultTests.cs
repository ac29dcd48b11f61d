namespace LlmMarketplace.Access.Tests.Distributed;

/// <summary>Redis really stopped and restarted under a replica: fail-open serves on local limits (degraded), fail-closed refuses with 429.</summary>
public sealed class RedisFaultTests
{
    [Fact]
    public async Task Fail_open_serves_on_local_limits_while_Redis_is_down_reports_degraded_and_counts_it_then_recovers()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl + "/v1"), new Dictionary<string, string?>
        {
            ["Redis:Configuration"] = redis.Configuration,
            ["Redis:FailureMode"] = "open",
        });
        var key = await CreateKeyAsync(host, new { name = "open", rpm = 3 });
        using var client = ClientWithKey(host, key.GetProperty("key").GetString()!);
        using (var ok = await ChatAsync(client)) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("Healthy", await ReadyAsync(host, HttpStatusCode.OK));

        await redis.StopAsync();
        // The local bucket starts full: three calls pass, the fourth is refused by the local limit, not by the outage.
        for (var i = 0; i < 3; i++)
        {
            using var served = await ChatAsync(client);
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        }
        using (var limited = await ChatAsync(client))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
            Assert.Contains("Limit 3", (await ErrorAsync(limited)).GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        Assert.Equal("Degraded", await ReadyAsync(host, HttpStatusCode.OK));
        var metrics = await host.Client.GetStringAsync("metrics");
        Assert.Contains("llmm_redis_fallbacks", metrics, StringComparison.Ordinal);
        Assert.Contains("use=\"rate_limit\"", metrics, StringComparison.Ordinal);

        await redis.StartAgainAsync();
        await UntilReadyAsync(host, "Healthy");
        // Back on the shared bucket (a new, full one: the restarted Redis kept nothing).
        using (var again = await ChatAsync(client)) Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    [Fact]
    public async Task Fail_closed_refuses_with_a_clear_429_while_Redis_is_down_and_serves_again_when_it_returns()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl + "/v1"), new Dictionary<string, string?>
        {
            ["Redis:Configuration"] = redis.Configuration,
            ["Redis:FailureMode"] = "closed",
        });
        var key = await CreateKeyAsync(host, new { name = "closed", rpm = 100 });
        using var client = ClientWithKey(host, key.GetProperty("key").GetString()!);
        using (var ok = await ChatAsync(client)) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        await redis.StopAsync();
        using (var refused = await ChatAsync(client))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            var error = await ErrorAsync(refused);
            Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
            Assert.Contains("Redis", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Equal("1", Header(refused, "retry-after"));
        }
        Assert.Equal(1, upstream.Count);
        Assert.Equal("Unhealthy", await ReadyAsync(host, HttpStatusCode.ServiceUnavailable));

        await redis.StartAgainAsync();
        await UntilReadyAsync(host, "Healthy");
        using (var again = await ChatAsync(client)) Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(2, upstream.Count);
    }

    [Fact]
    public async Task Replicas_that_start_while_Redis_is_down_serve_and_share_changes_once_it_is_up()
    {
        await using var redis = await RedisServer.StartAsync();
        await redis.StopAsync();
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        await using var shared = await DistributedKit.CreateSharedAsync(redis.Configuration);
        var replicas = await DistributedKit.StartReplicasAsync(2, Config(upstream.BaseUrl + "/v1"), shared);
        try
        {
            Assert.Equal("Degraded", await ReadyAsync(replicas[1], HttpStatusCode.OK));
            await redis.StartAgainAsync();
            foreach (var replica in replicas) await UntilReadyAsync(replica, "Healthy");

            // The refresh interval is 10 minutes: the key reaches the other replica only by the invalidation message.
            var key = await CreateKeyAsync(replicas[0], new { name = "late-redis" });
            var clients = replicas.Select(r => ClientWithKey(r, key.GetProperty("key").GetString()!)).ToArray();
            await ReplicaTests.UntilAllAsync(clients, HttpStatusCode.OK, TimeSpan.FromSeconds(5), "the key to reach both replicas");
            foreach (var client in clients) client.Dispose();
        }
        finally
        {
            foreach (var replica in replicas) await replica.DisposeAsync();
        }
    }

    private static async Task<string> ReadyAsync(GatewayHost host, HttpStatusCode expected)
    {
        using var response = await host.Client.GetAsync("health/ready");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"/health/ready answered {(int)response.StatusCode} {body}");
        return body;
    }

    private static Task UntilReadyAsync(GatewayHost host, string status) =>
        Wait.UntilAsync(async () =>
        {
            using var response = await host.Client.GetAsync("health/ready");
            return await response.Content.ReadAsStringAsync() == status;
        }, TimeSpan.FromSeconds(30), $"/health/ready to report {status}");
}
