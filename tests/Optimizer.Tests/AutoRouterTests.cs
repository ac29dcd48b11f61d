using LlmMarketplace.Optimizer.Routing;

namespace LlmMarketplace.Optimizer.Tests;

/// <summary>The auto-router's prediction from the prompt alone (no cascade) through the real host, learning from feedback on a synthetic stream.</summary>
public sealed class AutoRouterTests
{
    private const string Weak = WeakDeployment;
    private const string Strong = StrongDeployment;

    private static string Config(string baseUrl) => AutoModelConfig(baseUrl, 0.99, """
            MinFeedback: 10
            Exploration: 0.05
            Seed: 7
            Cascade: false
        """);

    /// <summary>The weak model is right exactly on translation prompts and wrong on calculus; the strong one is always right.</summary>
    private static (string Prompt, bool WeakRight) Prompt(Random random)
    {
        string[] words = ["house", "river", "apple", "window", "garden", "friend", "morning", "bread"];
        if (random.Next(2) == 0)
        {
            return ($"Translate the word '{words[random.Next(words.Length)]}' into French.", true);
        }
        var n = random.Next(2, 9);
        return ($"Compute the integral of x^{n} * sin({random.Next(2, 7)}x) from 0 to {random.Next(1, 5)} and show every step.", false);
    }

    [Fact]
    public async Task The_router_learns_from_feedback_to_send_only_what_the_weak_model_gets_right_to_it()
    {
        await using var upstream = await UpstreamAsync(static (model, _) => model);
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl));
        var random = new Random(42);

        async Task<(string Deployment, string Reason, bool WeakRight)> CallAsync()
        {
            var (prompt, weakRight) = Prompt(random);
            using var response = await ChatAsync(host.Client, "smart", prompt);
            var deployment = Header(response, "x-gateway-deployment");
            var reason = Header(response, "x-gateway-route-reason");
            var requestId = Header(response, "x-request-id");
            var right = deployment == Strong || weakRight;
            var (status, _) = await FeedbackAsync(host.Client, new { requestId, score = right ? 1.0 : 0.0 });
            Assert.Equal(HttpStatusCode.Created, status);
            return (deployment, reason, weakRight);
        }

        var learning = new List<(string Deployment, string Reason, bool WeakRight)>();
        for (var i = 0; i < 250; i++) learning.Add(await CallAsync());
        Assert.Contains(learning, static c => c.Reason.StartsWith("warmup:", StringComparison.Ordinal));

        var judged = new List<(string Deployment, string Reason, bool WeakRight)>();
        for (var i = 0; i < 120; i++) judged.Add(await CallAsync());

        Assert.All(judged, static c => Assert.Contains(c.Deployment, new[] { Weak, Strong }));
        Assert.All(judged, static c => Assert.False(string.IsNullOrEmpty(c.Reason)));
        var easy = judged.Where(static c => c.WeakRight).ToList();
        var hard = judged.Where(static c => !c.WeakRight).ToList();
        var easyToWeak = easy.Count(static c => c.Deployment == Weak) / (double)easy.Count;
        var hardToStrong = hard.Count(static c => c.Deployment == Strong) / (double)hard.Count;
        Assert.True(easyToWeak >= 0.85, $"only {easyToWeak:P0} of the prompts the weak model gets right went to it");
        Assert.True(hardToStrong >= 0.9, $"only {hardToStrong:P0} of the prompts only the strong model gets right went to it");
        Assert.Contains(judged, static c => c.Deployment == Weak && c.Reason.StartsWith("weak:", StringComparison.Ordinal) && c.Reason.Contains("quality target 0.99", StringComparison.Ordinal));
        Assert.Contains(judged, static c => c.Deployment == Strong && c.Reason.StartsWith("strong:", StringComparison.Ordinal));

        // The upstream got the deployment's own model name: the choice was real, not only a header.
        Assert.Contains(upstream.Requests, static r => r.Json.GetProperty("model").GetString() == "weak-model");
    }

    [Fact]
    public async Task Without_feedback_an_auto_model_still_answers_explains_the_warmup_and_counts_it_in_the_metrics()
    {
        await using var upstream = await UpstreamAsync(static (model, _) => model);
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl));
        using var response = await ChatAsync(host.Client, "smart", "Hello there");
        Assert.Contains(Header(response, "x-gateway-deployment"), new[] { Weak, Strong });
        Assert.StartsWith("warmup:", Header(response, "x-gateway-route-reason"), StringComparison.Ordinal);

        // The optimizer's meter is exported with the others: the routing decision is in /metrics.
        await Wait.UntilAsync(async () => (await host.Client.GetStringAsync("metrics")).Split('\n')
                .Any(static l => l.StartsWith("llmm_optimizer_routed_total{", StringComparison.Ordinal) && l.Contains("kind=\"warmup\"", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(20), "the auto-routed call in /metrics");
    }

    [Fact]
    public void The_cheap_share_grows_only_while_quality_is_above_the_target_by_more_than_the_noise_of_its_measure()
    {
        static double[] Scores(int right, int wrong) => [.. Enumerable.Repeat(1.0, right), .. Enumerable.Repeat(0.0, wrong)];

        // 80 of 100 routed calls right; the strong model right on 78 of 98 random calls (smoothed 0.79): the ratio is
        // 1.013, but one standard error of it is 0.073, so even a target of 0.95 is not surely met and the share shrinks.
        Assert.Equal(-0.0101, QualityRouter.Surplus(Scores(80, 20), 78, 98, 0.95), 4);
        // The same measures against a target of 0.85 are surely above it.
        Assert.Equal(0.0899, QualityRouter.Surplus(Scores(80, 20), 78, 98, 0.85), 4);
        // With a well-measured strong model (900 of 1,000) and 95 of 100 right, the share grows.
        Assert.Equal(0.0798, QualityRouter.Surplus(Scores(95, 5), 900, 1000, 0.95), 4);
    }
}
