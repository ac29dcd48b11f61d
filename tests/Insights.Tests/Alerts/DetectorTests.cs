using LlmMarketplace.Insights.Analytics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmMarketplace.Insights.Tests.Alerts;

/// <summary>Detectors driven by a fake clock: injected error, latency and cost patterns fire alerts, responses act, alerts resolve.</summary>
public sealed class DetectorTests
{
    // No retries and a breaker that never trips on its own: what opens the circuit here is the error-rate response.
    private const string GatewaySettings = """
        Gateway:
          Retry:
            MaxAttemptsPerDeployment: 1
            MaxTotalAttempts: 1
          CircuitBreaker:
            FailureThreshold: 1000
            BreakDurationSeconds: 60
            HalfOpenProbes: 1
        """;

    private sealed class Pattern
    {
        public volatile bool Failing;
        public int LatencyMs = 100;
        public int CompletionTokens = 10;
    }

    private static async Task<(GatewayHost Host, FakeUpstream Upstream, FakeTimeProvider Time, Pattern Pattern)> StartAsync(Dictionary<string, string?> overrides, FakeUpstream? standby = null)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 2, 10, 0, 1, TimeSpan.Zero));
        var pattern = new Pattern();
        var upstream = await FakeUpstream.StartAsync(async (context, _) =>
        {
            // The call takes as long as the pattern says, on the host's clock.
            time.Advance(TimeSpan.FromMilliseconds(Volatile.Read(ref pattern.LatencyMs)));
            if (pattern.Failing)
            {
                await FakeUpstream.Json(context, """{"error":{"message":"down","type":"server_error","param":null,"code":null}}""", 500);
                return;
            }
            var completion = Volatile.Read(ref pattern.CompletionTokens);
            await FakeUpstream.Json(context, """{"id":"c","object":"chat.completion","created":1,"model":"gpt-4","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":"""
                + completion.ToString(CultureInfo.InvariantCulture) + ",\"total_tokens\":" + (10 + completion).ToString(CultureInfo.InvariantCulture) + "}}");
        });
        overrides["Insights:Alerts:EvaluationInterval"] = "00:00:10";
        var config = standby is null ? Configs.OpenAI(upstream.BaseUrl + "/v1", extra: GatewaySettings) : $"""
            Providers:
              - Name: upstream
                Type: openai
                BaseUrl: {upstream.BaseUrl}/v1
              - Name: standby
                Type: openai
                BaseUrl: {standby.BaseUrl}/v1
            Models:
              - Name: gpt-4o-mini
                Routing: priority
                Deployments:
                  - Provider: upstream
                    Model: gpt-4
                    InputPerMTok: 0.15
                    OutputPerMTok: 0.60
                  - Provider: standby
                    Model: gpt-4
                    InputPerMTok: 0.15
                    OutputPerMTok: 0.60
            {GatewaySettings}
            """;
        var host = await GatewayHost.StartAsync(config, overrides, services => services.AddSingleton<TimeProvider>(time));
        return (host, upstream, time, pattern);
    }

    private static async Task CallsAsync(GatewayHost host, int count, string prompt = "hello")
    {
        for (var i = 0; i < count; i++) await ChatAsync(host.Client, prompt: prompt);
        var worker = host.Service<RollupWorker>();
        var records = (await UsageAsync(host)).Count;
        await Wait.UntilAsync(() => worker.ObservedPosition >= records, TimeSpan.FromSeconds(30), $"{records} usage records to reach the detectors");
    }

    private static Task<JsonElement> AlertAsync(GatewayHost host, string type, string state) =>
        UntilAsync(() => GetJsonAsync(host.Client, "api/v1/alerts?limit=100"),
            v => v.GetProperty("data").EnumerateArray().Any(a => a.GetProperty("type").GetString() == type && a.GetProperty("state").GetString() == state),
            $"a {state} {type} alert").ContinueWith(t => t.Result.GetProperty("data").EnumerateArray().First(a => a.GetProperty("type").GetString() == type && a.GetProperty("state").GetString() == state), TaskScheduler.Default);

    private static async Task<string> CircuitAsync(GatewayHost host)
    {
        var deployments = await GetJsonAsync(host.Client, "api/v1/gateway/deployments");
        return deployments.GetProperty("data").EnumerateArray().Single(d => d.GetProperty("model").GetString() == "gpt-4o-mini" && d.GetProperty("deployment").GetString() == "upstream/gpt-4")
            .GetProperty("circuit").GetString()!;
    }

    [Fact]
    public async Task A_high_error_rate_fires_once_opens_the_circuit_and_resolves_when_calls_succeed_again()
    {
        await using var standby = await UpstreamAsync();
        var (host, upstream, time, pattern) = await StartAsync(new() { ["Insights:Alerts:ErrorRateMinRequests"] = "10" }, standby);
        await using var _ = upstream;
        await using var __ = host;

        // 1 failure in 20 calls is 5%: not above the default threshold, no alert.
        await CallsAsync(host, 19);
        pattern.Failing = true;
        await CallsAsync(host, 1);
        Assert.DoesNotContain((await GetJsonAsync(host.Client, "api/v1/alerts")).GetProperty("data").EnumerateArray(), static a => a.GetProperty("type").GetString() == "error_rate");
        Assert.Equal("closed", await CircuitAsync(host));

        await CallsAsync(host, 4);
        var alert = await AlertAsync(host, "error_rate", "firing");
        Assert.Equal("deployment:upstream/gpt-4", alert.GetProperty("scope").GetString());
        Assert.Equal("provider:upstream", alert.GetProperty("group").GetString());
        Assert.Equal(0.05, alert.GetProperty("threshold").GetDouble());
        // The rate when it fired (the open circuit keeps later calls away from the deployment).
        Assert.InRange(alert.GetProperty("value").GetDouble(), 2.0 / 21, 5.0 / 24);
        Assert.Contains("circuit_opened", alert.GetProperty("actions").EnumerateArray().Select(static a => a.GetString()));
        Assert.Equal("open", await CircuitAsync(host));
        // Calls fail over to the standby deployment.
        var before = standby.Count;
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(host.Client, prompt: "after the circuit opened"));
        Assert.Equal(before + 1, standby.Count);

        // While it holds, evaluations count on the same alert instead of opening new ones.
        var id = alert.GetProperty("id").GetString()!;
        time.Advance(TimeSpan.FromSeconds(10));
        await UntilAsync(() => GetJsonAsync(host.Client, $"api/v1/alerts/{id}"), static a => a.GetProperty("occurrences").GetInt64() >= 2, "a repeat counted on the alert");
        var open = await GetJsonAsync(host.Client, "api/v1/alerts?state=open");
        Assert.Single(open.GetProperty("data").EnumerateArray(), static a => a.GetProperty("type").GetString() == "error_rate");

        // Acknowledged by an operator, audited.
        var acked = await PostJsonAsync(host.Client, $"api/v1/alerts/{id}/acknowledge", new { }, HttpStatusCode.OK);
        Assert.Equal("acknowledged", acked.GetProperty("state").GetString());
        Assert.Contains("alert.acknowledged", await host.Client.GetStringAsync(new Uri("api/v1/audit?limit=50", UriKind.Relative)), StringComparison.Ordinal);

        // The upstream recovers; past the window and the break, good calls resolve the alert.
        pattern.Failing = false;
        time.Advance(TimeSpan.FromMinutes(6));
        await CallsAsync(host, 12);
        var resolved = await AlertAsync(host, "error_rate", "resolved");
        Assert.Equal(id, resolved.GetProperty("id").GetString());
        Assert.Equal("closed", await CircuitAsync(host));
    }

    [Fact]
    public async Task Latency_and_cost_spikes_against_their_baselines_fire_turn_caching_on_and_resolve()
    {
        var (host, upstream, time, pattern) = await StartAsync(new());
        await using var _ = upstream;
        await using var __ = host;

        // Six ordinary minutes build the baselines: 3 calls of 100 ms and 10 output tokens each.
        for (var minute = 0; minute < 6; minute++)
        {
            await CallsAsync(host, 3, prompt: "minute " + minute.ToString(CultureInfo.InvariantCulture));
            time.Advance(TimeSpan.FromMinutes(1));
        }
        Assert.Empty((await GetJsonAsync(host.Client, "api/v1/alerts")).GetProperty("data").EnumerateArray());

        // A minute of slow, expensive calls.
        pattern.LatencyMs = 1000;
        pattern.CompletionTokens = 2000;
        await CallsAsync(host, 3, prompt: "spike");
        time.Advance(TimeSpan.FromMinutes(1));
        pattern.LatencyMs = 100;
        pattern.CompletionTokens = 10;
        await CallsAsync(host, 3, prompt: "after");

        var latency = await AlertAsync(host, "latency_spike", "firing");
        Assert.Equal("deployment:upstream/gpt-4", latency.GetProperty("scope").GetString());
        Assert.True(latency.GetProperty("value").GetDouble() >= 1000);
        var cost = await AlertAsync(host, "cost_spike", "firing");
        Assert.Equal("model:gpt-4o-mini", cost.GetProperty("scope").GetString());
        Assert.Contains("cache_enabled", cost.GetProperty("actions").EnumerateArray().Select(static a => a.GetString()));

        // Caching is on for the model now (it is off by configuration): a repeat is served from the cache.
        Assert.Equal("MISS", await CacheHeaderAsync(host, "repeat me"));
        Assert.Equal("HIT", await CacheHeaderAsync(host, "repeat me"));

        // Ordinary minutes again: both resolve, and caching goes back to the configuration.
        time.Advance(TimeSpan.FromMinutes(1));
        await CallsAsync(host, 3, prompt: "calm");
        time.Advance(TimeSpan.FromMinutes(1));
        await CallsAsync(host, 3, prompt: "calm again");
        await AlertAsync(host, "latency_spike", "resolved");
        await AlertAsync(host, "cost_spike", "resolved");
        Assert.Equal("BYPASS", await CacheHeaderAsync(host, "repeat me"));
    }

    private static async Task<string> CacheHeaderAsync(GatewayHost host, string prompt)
    {
        using var content = new StringContent($$"""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"{{prompt}}"}]}""", Encoding.UTF8, "application/json");
        using var response = await host.Client.PostAsync(new Uri("v1/chat/completions", UriKind.Relative), content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response.Headers.GetValues("x-cache").Single();
    }
}
