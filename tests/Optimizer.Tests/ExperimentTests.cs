namespace LlmMarketplace.Optimizer.Tests;

/// <summary>Experiments on a model alias through the real host: validation, sticky assignment, results, promotion, audit.</summary>
public sealed class ExperimentTests
{
    private const string A = "upstream/model-a";
    private const string B = "upstream/model-b";

    private static string Config(string baseUrl, string refresh = "00:00:05") => $"""
        Providers:
          - Name: upstream
            Type: openai
            BaseUrl: {baseUrl}/v1
        Models:
          - Name: chat
            Deployments:
              - Provider: upstream
                Model: model-a
                InputPerMTok: 1
                OutputPerMTok: 2
              - Provider: upstream
                Model: model-b
                InputPerMTok: 3
                OutputPerMTok: 4
        Optimizer:
          Experiments:
            RefreshInterval: {refresh}
            Seed: 11
        """;

    [Fact]
    public async Task An_invalid_experiment_is_refused_with_every_error_at_once()
    {
        await using var upstream = await UpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl));

        var first = await PostProblemAsync(host, new { name = "", model = "nope", allocation = "greedy", variants = new[] { new { name = "a", share = 1.0 } } });
        Assert.Equal(["allocation", "model", "name", "variants"], first);

        var second = await PostProblemAsync(host, new
        {
            name = "bad variants",
            model = "chat",
            variants = new object[]
            {
                new { name = "a", deployment = "upstream/missing", share = 0.5 },
                new { name = "b", parameters = new { messages = "override" }, share = 0.6 },
            },
        });
        Assert.Equal(["variants", "variants[0].deployment", "variants[1].parameters.messages"], second);
    }

    [Theory]
    [OnEachStorage]
    public async Task Variants_stick_to_users_split_traffic_and_the_better_one_is_found_promoted_and_audited(string storage)
    {
        await using var db = await TestStorage.CreateAsync(storage);
        await using var upstream = await UpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl), db.Overrides);
        var experiment = await CreateAsync(host, new
        {
            name = "cheaper model",
            model = "chat",
            variants = new object[]
            {
                new { name = "control", deployment = A, share = 0.5 },
                new { name = "treatment", deployment = B, parameters = new { temperature = 0.2 }, share = 0.5 },
            },
        });
        var id = experiment.GetProperty("id").GetString()!;

        // Sticky: one user always gets the same variant.
        var alice = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            using var response = await ChatAsUserAsync(host, "alice");
            alice.Add(Header(response, "x-gateway-experiment"));
        }
        Assert.Single(alice.Distinct());
        Assert.StartsWith(id + "/", alice[0], StringComparison.Ordinal);

        // Split: 200 users spread over both variants; the variant decides the deployment and the parameters.
        var calls = new List<(string Variant, string RequestId)>();
        for (var i = 0; i < 200; i++)
        {
            using var response = await ChatAsUserAsync(host, $"user-{i}");
            var variant = Header(response, "x-gateway-experiment").Split('/')[1];
            Assert.Equal(variant == "control" ? A : B, Header(response, "x-gateway-deployment"));
            calls.Add((variant, Header(response, "x-request-id")));
        }
        var treated = calls.Count(static c => c.Variant == "treatment");
        Assert.InRange(treated, 60, 140);
        Assert.All(upstream.Requests.Where(static r => r.Json.GetProperty("model").GetString() == "model-b"),
            static r => Assert.Equal(0.2, r.Json.GetProperty("temperature").GetDouble()));
        Assert.All(upstream.Requests.Where(static r => r.Json.GetProperty("model").GetString() == "model-a"),
            static r => Assert.False(r.Json.TryGetProperty("temperature", out _)));

        // Feedback: the treatment is right 80% of the time, the control 30%.
        var n = 0;
        foreach (var (variant, requestId) in calls)
        {
            var good = variant == "treatment" ? n % 10 < 8 : n % 10 < 3;
            n++;
            var (status, _) = await FeedbackAsync(host.Client, new { requestId, score = good ? 1.0 : 0.0 });
            Assert.Equal(HttpStatusCode.Created, status);
        }

        // Calls are recorded off the request path, in batches: wait until all 205 are written.
        var results = default(System.Text.Json.JsonElement);
        await Wait.UntilAsync(async () =>
        {
            results = await GetJsonAsync(host, $"api/v1/experiments/{id}/results");
            return results.GetProperty("variants").EnumerateArray().Sum(static v => v.GetProperty("calls").GetInt64()) == 205;
        }, TimeSpan.FromSeconds(30), "the experiment's 205 calls to be recorded");
        Assert.Equal("control", results.GetProperty("control").GetString());
        Assert.Equal("treatment", results.GetProperty("best").GetString());
        Assert.True(results.GetProperty("bestIsSignificant").GetBoolean());
        var variants = results.GetProperty("variants").EnumerateArray().ToDictionary(static v => v.GetProperty("name").GetString()!);
        var treatment = variants["treatment"];
        var score = treatment.GetProperty("score");
        // Alice's five calls count too, in her variant.
        Assert.Equal(treated + (alice[0].EndsWith("/treatment", StringComparison.Ordinal) ? 5 : 0), treatment.GetProperty("calls").GetInt64());
        Assert.InRange(score.GetProperty("mean").GetDouble(), 0.7, 0.9);
        Assert.True(score.GetProperty("low").GetDouble() < score.GetProperty("mean").GetDouble());
        Assert.True(score.GetProperty("high").GetDouble() > score.GetProperty("mean").GetDouble());
        var test = treatment.GetProperty("scoreVsControl");
        Assert.Equal("two_proportion_z", test.GetProperty("test").GetString());
        Assert.True(test.GetProperty("pValue").GetDouble() < 0.001);
        Assert.True(test.GetProperty("significant").GetBoolean());
        // Guard metrics: model-b's prices are higher, so its cost per call is higher; no errors on either side.
        Assert.True(treatment.GetProperty("costVsControl").GetProperty("difference").GetDouble() > 0);
        Assert.Equal(0, treatment.GetProperty("errorRate").GetProperty("mean").GetDouble());

        // Promote the best (no variant named): everyone gets it, alice included.
        using (var promote = await host.Client.PostAsJsonAsync($"api/v1/experiments/{id}/promote", new { }))
        {
            Assert.Equal(HttpStatusCode.OK, promote.StatusCode);
            var promoted = JsonDocument.Parse(await promote.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("promoted", promoted.GetProperty("status").GetString());
            Assert.Equal("treatment", promoted.GetProperty("winner").GetString());
        }
        foreach (var user in new[] { "alice", "user-1", "user-2", "user-3" })
        {
            using var response = await ChatAsUserAsync(host, user);
            Assert.Equal(id + "/treatment", Header(response, "x-gateway-experiment"));
            Assert.Equal(B, Header(response, "x-gateway-deployment"));
        }

        // Stop: the model's traffic is no longer steered.
        using (var stop = await host.Client.PostAsync(new Uri($"api/v1/experiments/{id}/stop", UriKind.Relative), null))
        {
            Assert.Equal(HttpStatusCode.OK, stop.StatusCode);
        }
        using (var after = await ChatAsUserAsync(host, "alice"))
        {
            Assert.Equal("", Header(after, "x-gateway-experiment"));
        }

        var audit = await GetJsonAsync(host, $"api/v1/audit?targetId={id}&order=asc");
        var actions = audit.GetProperty("data").EnumerateArray().Select(static e => e.GetProperty("action").GetString()!).ToArray();
        Assert.Equal(["experiment.created", "experiment.promoted", "experiment.stopped"], actions);
    }

    [Fact]
    public async Task Thompson_allocation_moves_traffic_towards_the_variant_with_better_feedback()
    {
        await using var upstream = await UpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl, refresh: "00:00:00.200"));
        var experiment = await CreateAsync(host, new
        {
            name = "adaptive",
            model = "chat",
            allocation = "thompson",
            minShare = 0.1,
            variants = new object[] { new { name = "a", deployment = A, share = 0.5 }, new { name = "b", deployment = B, share = 0.5 } },
        });
        var id = experiment.GetProperty("id").GetString()!;
        // No evidence yet: both variants are equally likely to be best (a Monte Carlo estimate).
        Assert.All(experiment.GetProperty("shares").EnumerateArray(), static s => Assert.InRange(s.GetDouble(), 0.4, 0.6));

        for (var i = 0; i < 80; i++)
        {
            using var response = await ChatAsUserAsync(host, $"u{i}");
            var variant = Header(response, "x-gateway-experiment").Split('/')[1];
            var (status, _) = await FeedbackAsync(host.Client, new { requestId = Header(response, "x-request-id"), score = variant == "b" ? 1.0 : 0.0 });
            Assert.Equal(HttpStatusCode.Created, status);
        }

        double[] shares = [];
        await Wait.UntilAsync(() =>
        {
            shares = GetJsonAsync(host, $"api/v1/experiments/{id}").GetAwaiter().GetResult()
                .GetProperty("shares").EnumerateArray().Select(static s => s.GetDouble()).ToArray();
            return shares[1] > 0.85;
        }, TimeSpan.FromSeconds(20), "the adaptive shares to favour variant b");
        Assert.True(shares[0] >= 0.1 - 1e-9, "the minimum share holds");
    }

    private static async Task<JsonElement> CreateAsync(GatewayHost host, object body)
    {
        using var response = await host.Client.PostAsJsonAsync("api/v1/experiments", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST /api/v1/experiments answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<string[]> PostProblemAsync(GatewayHost host, object body)
    {
        using var response = await host.Client.PostAsJsonAsync("api/v1/experiments", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"expected 400, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("errors").EnumerateObject().Select(static p => p.Name).Order(StringComparer.Ordinal).ToArray();
    }

    private static async Task<JsonElement> GetJsonAsync(GatewayHost host, string path)
    {
        using var response = await host.Client.GetAsync(new Uri(path, UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path} answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<HttpResponseMessage> ChatAsUserAsync(GatewayHost host, string user)
    {
        var body = JsonSerializer.Serialize(new { model = "chat", user, messages = new[] { new { role = "user", content = "Hello" } } });
        var response = await host.Client.PostAsync(new Uri("v1/chat/completions", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response;
    }
}
