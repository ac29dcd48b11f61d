namespace LlmMarketplace.Gateway.Tests.Resilience;

/// <summary>Per-deployment circuit breakers through the real host: they open on consecutive failures and stop traffic to the upstream.</summary>
public sealed class CircuitBreakerHostTests
{
    private const string Breaker = """
        CircuitBreaker:
          FailureThreshold: 5
          BreakDurationSeconds: 60
          HalfOpenProbes: 3
        """;

    [Fact]
    public async Task Five_consecutive_failures_open_the_circuit_and_the_next_call_is_a_503_without_touching_the_upstream()
    {
        await using var a = await FakeUpstream.StartAsync(Upstream.Fail(500));
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl)], gateway: Breaker));

        // Two attempts per request: 4 failures after two requests, one short of the threshold.
        for (var i = 0; i < 2; i++)
        {
            using var failed = await Upstream.PostAsync(host, Upstream.ChatBody);
            Assert.Equal(HttpStatusCode.BadGateway, failed.StatusCode);
        }
        var before = await Upstream.DeploymentAsync(host, "a/up-a");
        Assert.Equal("closed", before.GetProperty("circuit").GetString());
        Assert.Equal(4, before.GetProperty("consecutiveFailures").GetInt32());

        // The fifth failure opens the circuit; the retry that would have been the sixth attempt is refused.
        using (var third = await Upstream.PostAsync(host, Upstream.ChatBody))
        {
            Assert.Equal(HttpStatusCode.BadGateway, third.StatusCode);
        }
        Assert.Equal(5, a.Count);
        Assert.Equal("open", await Upstream.CircuitAsync(host, "a/up-a"));

        using var response = await Upstream.PostAsync(host, Upstream.ChatBody);
        await Upstream.AssertEnvelopeAsync(response, 503, "api_error", "no_healthy_deployment");
        // Not the 60 s break: clients sleep for retry-after, so it says when the next probe is due, capped at 5 s.
        Assert.Equal("5", Upstream.Header(response, "retry-after"));
        Assert.Equal(5, a.Count);
    }

    [Fact]
    public async Task An_open_circuit_sends_traffic_straight_to_the_next_deployment()
    {
        await using var a = await FakeUpstream.StartAsync(Upstream.Fail(500));
        await using var b = await FakeUpstream.StartAsync(Upstream.Answer("from-b"));
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl), ("b", b.BaseUrl)], gateway: Breaker));

        for (var i = 0; i < 3; i++)
        {
            using var fellBack = await Upstream.PostAsync(host, Upstream.ChatBody);
            Assert.Equal(HttpStatusCode.OK, fellBack.StatusCode);
        }
        Assert.Equal(5, a.Count);
        Assert.Equal("open", await Upstream.CircuitAsync(host, "a/up-a"));
        Assert.Equal("closed", await Upstream.CircuitAsync(host, "b/up-b"));

        using var response = await Upstream.PostAsync(host, Upstream.ChatBody);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("b/up-b", Upstream.Header(response, "x-gateway-deployment"));
        Assert.Equal("1", Upstream.Header(response, "x-gateway-attempts"));
        Assert.Equal(5, a.Count);
    }

    [Fact]
    public async Task After_the_break_a_successful_probe_closes_the_circuit()
    {
        await using var a = await FakeUpstream.StartAsync((ctx, n) => n < 5
            ? FakeUpstream.Json(ctx, Upstream.Error("down", "server_error", null), 500)
            : FakeUpstream.Json(ctx, Upstream.Completion("recovered")));
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl)], gateway: """
            CircuitBreaker:
              FailureThreshold: 5
              BreakDurationSeconds: 2
              HalfOpenProbes: 1
            """));

        for (var i = 0; i < 3; i++)
        {
            using var failed = await Upstream.PostAsync(host, Upstream.ChatBody);
            Assert.Equal(HttpStatusCode.BadGateway, failed.StatusCode);
        }
        Assert.Equal(5, a.Count);

        await Wait.UntilAsync(async () => await Upstream.CircuitAsync(host, "a/up-a") == "half_open", TimeSpan.FromSeconds(15), "the circuit to become half-open after the break");
        using var probe = await Upstream.PostAsync(host, Upstream.ChatBody);

        Assert.Equal(HttpStatusCode.OK, probe.StatusCode);
        Assert.Equal("recovered", await Upstream.ContentAsync(probe));
        Assert.Equal("closed", await Upstream.CircuitAsync(host, "a/up-a"));
    }

    [Fact]
    public async Task The_admin_reset_and_probe_take_the_deployment_id_with_its_slash_escaped()
    {
        await using var a = await FakeUpstream.StartAsync(Upstream.Fail(500));
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl)], gateway: Breaker));
        for (var i = 0; i < 3; i++)
        {
            using var failed = await Upstream.PostAsync(host, Upstream.ChatBody);
            Assert.Equal(HttpStatusCode.BadGateway, failed.StatusCode);
        }
        Assert.Equal("open", await Upstream.CircuitAsync(host, "a/up-a"));
        var escaped = Uri.EscapeDataString("a/up-a");
        Assert.Equal("a%2Fup-a", escaped);

        using (var reset = await host.Client.PostAsync($"api/v1/gateway/deployments/m/{escaped}/reset", null))
        {
            Assert.True(reset.StatusCode == HttpStatusCode.OK, await reset.Content.ReadAsStringAsync());
            var dto = System.Text.Json.JsonDocument.Parse(await reset.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("a/up-a", dto.GetProperty("deployment").GetString());
            Assert.Equal("closed", dto.GetProperty("circuit").GetString());
        }
        Assert.Equal("closed", await Upstream.CircuitAsync(host, "a/up-a"));
        Assert.Equal(0, (await Upstream.DeploymentAsync(host, "a/up-a")).GetProperty("consecutiveFailures").GetInt32());

        using (var probe = await host.Client.PostAsync($"api/v1/gateway/deployments/m/{escaped}/probe", null))
        {
            Assert.True(probe.StatusCode == HttpStatusCode.OK, await probe.Content.ReadAsStringAsync());
            var result = System.Text.Json.JsonDocument.Parse(await probe.Content.ReadAsStringAsync()).RootElement;
            Assert.False(result.GetProperty("healthy").GetBoolean());
            Assert.Equal(500, result.GetProperty("status").GetInt32());
        }

        // An id that names no deployment of the model stays a 404, escaped or not.
        using var unknown = await host.Client.PostAsync($"api/v1/gateway/deployments/m/{Uri.EscapeDataString("a/nothing")}/reset", null);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }
}
