using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;
using Microsoft.Extensions.Time.Testing;

namespace LlmMarketplace.Gateway.Tests.Routing;

/// <summary>How the router orders a model's deployments: priority, cost, latency, hybrid score, weighted, and request narrowing.</summary>
public sealed class RouterTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly Dictionary<string, ProviderClient> _providers = new(StringComparer.Ordinal);

    public void Dispose()
    {
        foreach (var provider in _providers.Values) provider.Dispose();
    }

    private RoutableDeployment Deployment(string provider, decimal input = 1, decimal output = 1, decimal perRequest = 0, double weight = 1, string? region = null)
    {
        if (!_providers.TryGetValue(provider, out var client))
        {
            client = new ProviderClient(new ProviderConfig(provider, ProviderType.OpenAI, new Uri($"http://{provider}.invalid/v1"), null, null,
                new Dictionary<string, string>(), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), null));
            _providers[provider] = client;
        }
        var id = $"{provider}/up-{provider}";
        var config = new DeploymentConfig(id, provider, "up-" + provider, new Pricing(input, output, null, null, perRequest), weight, region);
        return new RoutableDeployment(config, client, new DeploymentHealth(id, CircuitBreakerSettings.Default, 1.0, _time));
    }

    private static RoutableModel Model(RoutingMode routing, params RoutableDeployment[] deployments) =>
        new(new ModelConfig("m", ModelKind.Chat, routing, deployments.Select(static d => d.Config).ToList(), null, null, null, 0.95, HybridWeights.Default, "test", 0), deployments);

    private static string[] Ids(IEnumerable<RoutableDeployment> ordered) => ordered.Select(static d => d.Config.Provider).ToArray();

    /// <summary>Gives a deployment an observed first-byte latency (alpha 1: the EWMA is the last observation).</summary>
    private static RoutableDeployment WithLatency(RoutableDeployment d, double ms)
    {
        d.Health.RecordSuccess(TimeSpan.FromMilliseconds(ms));
        return d;
    }

    [Fact]
    public void Priority_keeps_the_configured_order_whatever_the_price_or_latency()
    {
        var model = Model(RoutingMode.Priority,
            WithLatency(Deployment("a", input: 10, output: 10), 500),
            WithLatency(Deployment("b", input: 5, output: 5), 50),
            WithLatency(Deployment("c", input: 0.1m, output: 0.1m), 5));

        Assert.Equal(["a", "b", "c"], Ids(Router.Order(model, null)));
    }

    [Fact]
    public void Cost_orders_by_blended_price_including_the_per_request_fee()
    {
        var model = Model(RoutingMode.Cost,
            Deployment("a", input: 1, output: 2),                       // 3
            Deployment("b", input: 0, output: 0, perRequest: 0.01m),    // 0.01 × 1000 = 10
            Deployment("c", input: 0.5m, output: 0.5m),                 // 1
            Deployment("d", input: 2, output: 3));                      // 5

        Assert.Equal(["c", "a", "d", "b"], Ids(Router.Order(model, null)));
    }

    [Fact]
    public void Latency_orders_by_the_latency_ewma_with_unmeasured_deployments_first()
    {
        var model = Model(RoutingMode.Latency,
            WithLatency(Deployment("a"), 300),
            WithLatency(Deployment("b"), 100),
            Deployment("unmeasured"),
            WithLatency(Deployment("c"), 200));

        Assert.Equal(["unmeasured", "b", "c", "a"], Ids(Router.Order(model, null)));
    }

    [Fact]
    public void The_latency_ewma_blends_new_observations_with_alpha()
    {
        var d = Deployment("a");
        d.Health.Alpha = 0.2;

        d.Health.RecordSuccess(TimeSpan.FromMilliseconds(100));
        d.Health.RecordSuccess(TimeSpan.FromMilliseconds(600));

        Assert.Equal(200, d.Health.LatencyMs, precision: 9); // 0.2 × 600 + 0.8 × 100
    }

    [Fact]
    public void The_hybrid_score_follows_the_formula_with_default_weights()
    {
        // cheap: price 3, 100 ms, always succeeded; fast: price 30, 50 ms; flaky: price 6, 400 ms, success rate 0.5.
        var cheap = WithLatency(Deployment("cheap", input: 1, output: 2), 100);
        var fast = WithLatency(Deployment("fast", input: 10, output: 20), 50);
        var flaky = WithLatency(Deployment("flaky", input: 2, output: 4), 400);
        flaky.Health.Alpha = 0.5;
        flaky.Health.RecordFailure();
        Assert.Equal(0.5, flaky.Health.SuccessRate, precision: 9);
        var w = HybridWeights.Default;
        Assert.Equal(new HybridWeights(0.4, 0.4, 0.2), w);

        // score = 0.4·(1 − cost/30) + 0.4·(1 − latency/400) + 0.2·success_rate
        Assert.Equal(0.36 + 0.30 + 0.20, Router.HybridScore(cheap, 30, 400, w), precision: 9);  // 0.86
        Assert.Equal(0.00 + 0.35 + 0.20, Router.HybridScore(fast, 30, 400, w), precision: 9);   // 0.55
        Assert.Equal(0.32 + 0.00 + 0.10, Router.HybridScore(flaky, 30, 400, w), precision: 9);  // 0.42

        var model = Model(RoutingMode.Hybrid, flaky, fast, cheap);
        Assert.Equal(["cheap", "fast", "flaky"], Ids(Router.Order(model, null)));
    }

    [Fact]
    public void The_hybrid_weights_change_the_winner()
    {
        var cheapSlow = WithLatency(Deployment("cheap", input: 1, output: 1), 400);
        var dearFast = WithLatency(Deployment("dear", input: 10, output: 10), 40);

        var costFirst = new RoutableModel(Model(RoutingMode.Hybrid).Config with { Hybrid = new HybridWeights(1, 0, 0), Deployments = [cheapSlow.Config, dearFast.Config] }, [dearFast, cheapSlow]);
        var speedFirst = new RoutableModel(costFirst.Config with { Hybrid = new HybridWeights(0, 1, 0) }, [cheapSlow, dearFast]);

        Assert.Equal(["cheap", "dear"], Ids(Router.Order(costFirst, null)));
        Assert.Equal(["dear", "cheap"], Ids(Router.Order(speedFirst, null)));
    }

    [Fact]
    public void Weighted_puts_a_deployment_first_in_proportion_to_its_weight()
    {
        var model = Model(RoutingMode.Weighted, Deployment("heavy", weight: 3), Deployment("light", weight: 1));
        const int Runs = 20_000;

        var heavyFirst = 0;
        for (var i = 0; i < Runs; i++)
        {
            var order = Router.Order(model, null);
            Assert.Equal(2, order.Count);
            if (order[0].Config.Provider == "heavy") heavyFirst++;
        }

        var share = (double)heavyFirst / Runs;
        Assert.InRange(share, 0.72, 0.78);
    }

    [Fact]
    public void Weighted_never_puts_a_zero_weight_deployment_first()
    {
        var model = Model(RoutingMode.Weighted, Deployment("off", weight: 0), Deployment("on", weight: 1));

        for (var i = 0; i < 1000; i++)
        {
            Assert.Equal(["on", "off"], Ids(Router.Order(model, null)));
        }
    }

    [Fact]
    public void Only_narrows_by_provider_name_deployment_id_or_region()
    {
        var model = Model(RoutingMode.Priority, Deployment("a"), Deployment("b", region: "eu-west"), Deployment("c"));

        Assert.Equal(["b"], Ids(Router.Order(model, new RouteFilter(["B"], null, null))));
        Assert.Equal(["c"], Ids(Router.Order(model, new RouteFilter(["c/up-c"], null, null))));
        Assert.Equal(["b"], Ids(Router.Order(model, new RouteFilter(["eu-west"], null, null))));
        Assert.Equal(["a", "c"], Ids(Router.Order(model, new RouteFilter(["c", "a"], null, null))));
        Assert.Empty(Router.Order(model, new RouteFilter(["nowhere"], null, null)));
    }

    [Fact]
    public void Ignore_removes_and_order_ranks_ahead_of_the_routing_mode()
    {
        var model = Model(RoutingMode.Cost, Deployment("a", input: 1), Deployment("b", input: 2), Deployment("c", input: 3));

        Assert.Equal(["a", "c"], Ids(Router.Order(model, new RouteFilter(null, ["b"], null))));
        Assert.Equal(["c", "a", "b"], Ids(Router.Order(model, new RouteFilter(null, null, ["c"]))));
        Assert.Equal(["c", "b", "a"], Ids(Router.Order(model, new RouteFilter(null, null, ["c", "b"]))));
    }
}
