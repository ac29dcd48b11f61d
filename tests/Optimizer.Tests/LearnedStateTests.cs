using LlmMarketplace.Optimizer.Routing;

namespace LlmMarketplace.Optimizer.Tests;

/// <summary>What the auto-router learned lives in the database: a restart keeps it and replicas on one PostgreSQL share it.</summary>
public sealed class LearnedStateTests
{
    private static string Config(string baseUrl) => AutoModelConfig(baseUrl, 0.9, """
            MinFeedback: 10
            Seed: 3
            Cascade: false
            RefreshInterval: 00:00:01
        """);

    [Theory]
    [OnEachStorage]
    public async Task What_the_router_learned_survives_a_restart(string storage)
    {
        await using var db = await TestStorage.CreateAsync(storage);
        await using var upstream = await UpstreamAsync();

        IReadOnlyDictionary<string, long> learned;
        await using (var first = await GatewayHost.StartAsync(Config(upstream.BaseUrl), db.Overrides))
        {
            await CallAndJudgeAsync(first, 40);
            learned = first.Service<QualityRouter>().FeedbackCounts("smart");
            Assert.Equal(40, learned.Values.Sum());
        }

        await using var restarted = await GatewayHost.StartAsync(Config(upstream.BaseUrl), db.Overrides);
        Assert.Equal(learned.OrderBy(static kv => kv.Key), restarted.Service<QualityRouter>().FeedbackCounts("smart").OrderBy(static kv => kv.Key));
    }

    [Fact]
    public async Task A_second_replica_learns_from_feedback_given_to_the_first()
    {
        await using var db = await TestStorage.CreateAsync("postgres");
        await using var upstream = await UpstreamAsync();
        await using var first = await GatewayHost.StartAsync(Config(upstream.BaseUrl), db.Overrides);
        await using var second = await GatewayHost.StartAsync(Config(upstream.BaseUrl), db.Overrides);

        await CallAndJudgeAsync(first, 30);
        var learned = first.Service<QualityRouter>().FeedbackCounts("smart");
        Assert.Equal(30, learned.Values.Sum());

        var router = second.Service<QualityRouter>();
        await Wait.UntilAsync(() => router.FeedbackCounts("smart").Values.Sum() == 30, TimeSpan.FromSeconds(30),
            "the second replica to fold in the 30 feedbacks given to the first");
        Assert.Equal(learned.OrderBy(static kv => kv.Key), router.FeedbackCounts("smart").OrderBy(static kv => kv.Key));
        // Its own feedback goes the other way.
        await CallAndJudgeAsync(second, 5);
        var firstRouter = first.Service<QualityRouter>();
        await Wait.UntilAsync(() => firstRouter.FeedbackCounts("smart").Values.Sum() == 35, TimeSpan.FromSeconds(30),
            "the first replica to fold in the 5 feedbacks given to the second");
    }

    /// <summary>Calls the auto-routed model <paramref name="count"/> times and scores each call through <c>POST /v1/feedback</c>.</summary>
    private static async Task CallAndJudgeAsync(GatewayHost host, int count)
    {
        for (var i = 0; i < count; i++)
        {
            using var response = await ChatAsync(host.Client, "smart", i % 2 == 0 ? $"Translate 'house {i}' into French." : $"Integrate x^{i} from 0 to 1.");
            var requestId = Header(response, "x-request-id");
            var (status, _) = await FeedbackAsync(host.Client, new { requestId, score = i % 3 == 0 ? 0.0 : 1.0 });
            Assert.Equal(HttpStatusCode.Created, status);
        }
    }
}
