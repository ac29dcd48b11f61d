using LlmMarketplace.Gateway.Tests.Resilience;

namespace LlmMarketplace.Gateway.Tests.Routing;

/// <summary>Routing through the real host: the routing mode picks the deployment, and a request can narrow the choice.</summary>
public sealed class RouteSelectionHostTests : IAsyncLifetime
{
    private FakeUpstream _a = null!;
    private FakeUpstream _b = null!;
    private GatewayHost _host = null!;

    public async Task InitializeAsync()
    {
        _a = await FakeUpstream.StartAsync(Upstream.Answer("from-a"));
        _b = await FakeUpstream.StartAsync(Upstream.Answer("from-b"));
        _host = await GatewayHost.StartAsync(Upstream.Config([("a", _a.BaseUrl), ("b", _b.BaseUrl)]));
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    /// <summary>The call succeeded through <paramref name="deployment"/> and the other upstream saw no request.</summary>
    private static void AssertAnsweredBy(HttpResponseMessage response, string deployment, FakeUpstream untouched)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(deployment, Upstream.Header(response, "x-gateway-deployment"));
        Assert.Equal(0, untouched.Count);
    }

    [Fact]
    public async Task Without_narrowing_priority_routing_uses_the_first_deployment()
    {
        using var response = await Upstream.PostAsync(_host, Upstream.ChatBody);

        AssertAnsweredBy(response, "a/up-a", untouched: _b);
    }

    [Theory]
    [InlineData("b")]
    [InlineData("b/up-b")]
    public async Task The_route_header_narrows_to_a_provider_or_deployment(string route)
    {
        using var response = await Upstream.PostAsync(_host, Upstream.ChatBody, r => r.Headers.Add("x-gateway-route", route));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("b/up-b", Upstream.Header(response, "x-gateway-deployment"));
        Assert.Equal("from-b", await Upstream.ContentAsync(response));
        Assert.Equal(0, _a.Count);
    }

    [Fact]
    public async Task The_route_header_orders_the_listed_deployments()
    {
        using var response = await Upstream.PostAsync(_host, Upstream.ChatBody, r => r.Headers.Add("x-gateway-route", "b, a"));

        AssertAnsweredBy(response, "b/up-b", untouched: _a);
    }

    [Fact]
    public async Task The_provider_only_body_extension_narrows_and_is_not_forwarded()
    {
        using var response = await Upstream.PostAsync(_host, """{"model":"m","messages":[{"role":"user","content":"hi"}],"provider":{"only":["b"]}}""");

        AssertAnsweredBy(response, "b/up-b", untouched: _a);
        Assert.False(Assert.Single(_b.Requests).Json.TryGetProperty("provider", out _));
    }

    [Fact]
    public async Task The_provider_ignore_body_extension_skips_a_deployment()
    {
        using var response = await Upstream.PostAsync(_host, """{"model":"m","messages":[{"role":"user","content":"hi"}],"provider":{"ignore":["a"]}}""");

        AssertAnsweredBy(response, "b/up-b", untouched: _a);
    }

    [Fact]
    public async Task A_route_header_and_body_that_share_no_deployment_are_a_400()
    {
        using var response = await Upstream.PostAsync(_host, """{"model":"m","messages":[{"role":"user","content":"hi"}],"provider":{"only":["b"]}}""",
            r => r.Headers.Add("x-gateway-route", "a"));

        var error = await Upstream.AssertEnvelopeAsync(response, 400, "invalid_request_error", "no_matching_deployment");
        Assert.Equal("provider", error.GetProperty("param").GetString());
        Assert.Equal(0, _a.Count + _b.Count);
    }

    [Theory]
    [InlineData("x-gateway-route", "nowhere")]
    [InlineData("body", "nowhere")]
    public async Task An_unmatched_route_is_a_400_that_never_reaches_an_upstream(string where, string route)
    {
        var body = where == "body"
            ? $$$"""{"model":"m","messages":[{"role":"user","content":"hi"}],"provider":{"only":["{{{route}}}"]}}"""
            : Upstream.ChatBody;
        using var response = await Upstream.PostAsync(_host, body, r =>
        {
            if (where != "body") r.Headers.Add(where, route);
        });

        var error = await Upstream.AssertEnvelopeAsync(response, 400, "invalid_request_error", "no_matching_deployment");
        Assert.Equal("provider", error.GetProperty("param").GetString());
        Assert.Equal(0, _a.Count + _b.Count);
    }
}

/// <summary>The routing modes chosen in configuration take effect through the host.</summary>
public sealed class RoutingModeHostTests
{
    [Fact]
    public async Task Cost_routing_sends_the_call_to_the_cheapest_deployment()
    {
        await using var a = await FakeUpstream.StartAsync(Upstream.Answer("from-a"));
        await using var b = await FakeUpstream.StartAsync(Upstream.Answer("from-b"));
        // Both deployments get InputPerMTok 1 and OutputPerMTok 2 from the helper; b adds a per-request fee.
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("b", b.BaseUrl), ("a", a.BaseUrl)], routing: "cost",
            deploymentExtra: name => name == "b" ? "PerRequest: 0.001" : ""));

        using var response = await Upstream.PostAsync(host, Upstream.ChatBody);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("a/up-a", Upstream.Header(response, "x-gateway-deployment"));
        Assert.Equal(0, b.Count);
    }

    [Fact]
    public async Task Weighted_routing_never_picks_a_zero_weight_deployment_first()
    {
        await using var a = await FakeUpstream.StartAsync(Upstream.Answer("from-a"));
        await using var b = await FakeUpstream.StartAsync(Upstream.Answer("from-b"));
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl), ("b", b.BaseUrl)], routing: "weighted",
            deploymentExtra: name => name == "a" ? "Weight: 0" : "Weight: 1"));

        for (var i = 0; i < 10; i++)
        {
            using var response = await Upstream.PostAsync(host, Upstream.ChatBody);
            Assert.Equal("b/up-b", Upstream.Header(response, "x-gateway-deployment"));
        }
        Assert.Equal(0, a.Count);
    }
}
