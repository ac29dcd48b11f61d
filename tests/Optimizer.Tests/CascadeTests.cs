using System.Globalization;
using LlmMarketplace.Optimizer.Routing;

namespace LlmMarketplace.Optimizer.Tests;

/// <summary>
/// The cascade through the real host: the weak deployment answers first, its answer is checked and kept or escalated,
/// the escalated call is billed for both answers, and the acceptance model learns from feedback.
/// </summary>
public sealed class CascadeTests
{
    private const string Weak = WeakDeployment;
    private const string Strong = StrongDeployment;

    private static string Config(string baseUrl) => AutoModelConfig(baseUrl, 0.95, """
            MinFeedback: 10
            Exploration: 0.02
            Seed: 11
        """);

    /// <summary>
    /// A stream of sums. The strong model always answers right. The weak model answers right with a worked line and a
    /// final "####"; on a third of the prompts (those that ask for "the total") it guesses a wrong number in a sentence,
    /// which no hard check catches but the acceptance model can learn; now and then it writes a wrong calculation.
    /// </summary>
    private static string Answer(string model, string prompt)
    {
        var numbers = prompt.Split(' ').Select(static w => w.TrimEnd('?', '.')).Where(static w => int.TryParse(w, out _)).Select(static w => int.Parse(w, CultureInfo.InvariantCulture)).ToArray();
        var (a, b) = (numbers[0], numbers[1]);
        if (model == "strong-model") return $"{a} + {b} = {a + b}\n#### {a + b}";
        if (prompt.Contains("the total", StringComparison.Ordinal)) return $"I think it is about {a + b + 7}";
        if (prompt.Contains("carefully", StringComparison.Ordinal)) return $"{a} + {b} = {a + b + 1}\n#### {a + b + 1}";
        return $"{a} + {b} = {a + b}\n#### {a + b}";
    }

    private enum Kind
    {
        Right,
        Guess,
        BadArithmetic,
    }

    private static (string Prompt, Kind Kind) Prompt(Random random)
    {
        var (a, b) = (random.Next(10, 90), random.Next(10, 90));
        return random.Next(10) switch
        {
            < 3 => ($"Tom has {a} apples and gets {b} more. What is the total number of apples?", Kind.Guess),
            3 => ($"Add {a} and {b} carefully, please.", Kind.BadArithmetic),
            _ => ($"Sam had {a} coins and found {b} more. How many coins does Sam have now?", Kind.Right),
        };
    }

    [Fact]
    public async Task The_cascade_keeps_good_cheap_answers_and_learns_to_escalate_the_rest()
    {
        await using var upstream = await UpstreamAsync(Answer);
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl));
        var random = new Random(5);

        async Task<(string Deployment, string Cascade, string Reason, Kind Kind)> CallAsync()
        {
            var (prompt, kind) = Prompt(random);
            using var response = await ChatAsync(host.Client, "smart", prompt);
            var deployment = Header(response, "x-gateway-deployment");
            var right = deployment == Strong || kind == Kind.Right;
            var (status, _) = await FeedbackAsync(host.Client, new { requestId = Header(response, "x-request-id"), score = right ? 1.0 : 0.0 });
            Assert.Equal(HttpStatusCode.Created, status);
            return (deployment, Header(response, "x-gateway-cascade"), Header(response, "x-gateway-route-reason"), kind);
        }

        var learning = new List<(string Deployment, string Cascade, string Reason, Kind Kind)>();
        for (var i = 0; i < 150; i++) learning.Add(await CallAsync());
        Assert.Contains(learning, static c => c.Reason.StartsWith("cascade: kept the answer of upstream/weak-model (learning", StringComparison.Ordinal));

        var judged = new List<(string Deployment, string Cascade, string Reason, Kind Kind)>();
        for (var i = 0; i < 100; i++) judged.Add(await CallAsync());

        // A wrong calculation is escalated every time, from the first call on, and says why.
        var bad = learning.Concat(judged).Where(static c => c.Kind == Kind.BadArithmetic).ToList();
        Assert.NotEmpty(bad);
        Assert.All(bad, c =>
        {
            Assert.True(c.Deployment == Strong, c.Reason);
            Assert.Equal(Strong, c.Deployment);
            Assert.Equal("escalated", c.Cascade);
            Assert.Contains("calculations is wrong", c.Reason, StringComparison.Ordinal);
        });

        // After learning, right answers stay on the weak model and the guesses go to the strong one.
        var right = judged.Where(static c => c.Kind == Kind.Right).ToList();
        var guesses = judged.Where(static c => c.Kind == Kind.Guess).ToList();
        var kept = right.Count(static c => c.Deployment == Weak && c.Cascade == "kept") / (double)right.Count;
        var escalated = guesses.Count(static c => c.Deployment == Strong && c.Cascade == "escalated") / (double)guesses.Count;
        Assert.True(kept >= 0.9, $"only {kept:P0} of the right cheap answers were kept");
        Assert.True(escalated >= 0.9, $"only {escalated:P0} of the wrong cheap answers were escalated");
        Assert.Contains(judged, static c => c.Kind == Kind.Guess && c.Reason.StartsWith("cascade: escalated to upstream/strong-model: p(answer of upstream/weak-model is good)=", StringComparison.Ordinal));
        Assert.Contains(judged, static c => c.Kind == Kind.Right && c.Reason.Contains("for quality target 0.95", StringComparison.Ordinal));

        // Every escalated call really asked both models, the weak one first.
        var weakAsked = upstream.Requests.Count(static r => r.Json.GetProperty("model").GetString() == "weak-model");
        Assert.Equal(250, weakAsked);
    }

    /// <summary>
    /// A kept wrong answer costs quality only when the strong model would have been right. Escalated calls show how often
    /// that is: the weak model's wrong sums (escalated by the arithmetic check) are fixed by the strong model when asked
    /// "carefully", and repeated by it when asked "quickly". The router reports the share it learned in its reasons.
    /// </summary>
    [Fact]
    public async Task The_cascade_learns_how_often_the_strong_model_fixes_the_weak_models_misses()
    {
        static string Answers(string model, string prompt)
        {
            var numbers = prompt.Split(' ').Where(static w => int.TryParse(w, out _)).Select(static w => int.Parse(w, CultureInfo.InvariantCulture)).ToArray();
            var (a, b) = (numbers[0], numbers[1]);
            var slip = prompt.Contains("carefully", StringComparison.Ordinal) || prompt.Contains("quickly", StringComparison.Ordinal);
            if (model == "strong-model") return prompt.Contains("quickly", StringComparison.Ordinal) ? $"#### {a + b + 1}" : $"{a} + {b} = {a + b}\n#### {a + b}";
            return slip ? $"{a} + {b} = {a + b + 1}\n#### {a + b + 1}" : $"{a} + {b} = {a + b}\n#### {a + b}";
        }

        await using var upstream = await UpstreamAsync(Answers);
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl));
        var random = new Random(9);
        var (fixedMisses, repeatedMisses) = (0, 0);
        for (var i = 0; i < 90; i++)
        {
            var (a, b) = (random.Next(10, 90), random.Next(10, 90));
            var prompt = (i % 3) switch
            {
                0 => $"Add {a} and {b} carefully please.",
                1 => $"Add {a} and {b} quickly please.",
                _ => $"Sam had {a} coins and found {b} more.",
            };
            using var response = await ChatAsync(host.Client, "smart", prompt);
            var deployment = Header(response, "x-gateway-deployment");
            var right = (i % 3) switch
            {
                0 => deployment == Strong,
                1 => false,
                _ => true,
            };
            if (i % 3 != 2)
            {
                Assert.Equal(Strong, deployment);
                if (right) fixedMisses++;
                else repeatedMisses++;
            }
            var (status, _) = await FeedbackAsync(host.Client, new { requestId = Header(response, "x-request-id"), score = right ? 1.0 : 0.0 });
            Assert.Equal(HttpStatusCode.Created, status);
        }

        // The share starts at one (two of two, as if the strong model fixed every miss) and learns from every escalation.
        var learned = (2.0 + fixedMisses) / (2.0 + fixedMisses + repeatedMisses);
        Assert.InRange(learned, 0.45, 0.6);
        using var next = await ChatAsync(host.Client, "smart", "Sam had 12 coins and found 30 more.");
        var reason = Header(next, "x-gateway-route-reason");
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"right on {learned * 100:0}% of its misses"), reason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_loss_of_a_kept_answer_counts_only_the_misses_the_strong_model_would_have_fixed()
    {
        // Ten recent calls, four of them escalated by a hard check; the budget is (1 − 0.95) × 10 × 0.8 = 0.4.
        List<double> Chances() => [0.6, 0.95, 0.7, 0.85, 0.9, 0.8];
        // Counted as full losses: 0.05 + 0.1 + 0.15 = 0.30 fits, + 0.2 does not.
        Assert.Equal(0.85, CascadeModel.Threshold(Chances(), 10, 0.95, 0.8, 1.0));
        // When the strong model fixes 40% of the misses: 0.02 + 0.04 + 0.06 + 0.08 + 0.12 = 0.32 fits, + 0.16 does not.
        Assert.Equal(0.7, CascadeModel.Threshold(Chances(), 10, 0.95, 0.8, 0.4));
        // A target of 1 allows no loss: everything is escalated.
        Assert.Equal(double.PositiveInfinity, CascadeModel.Threshold(Chances(), 10, 1.0, 0.8, 0.4));
    }

    [Fact]
    public async Task An_escalated_call_is_billed_for_both_answers_in_its_headers_and_usage_record()
    {
        await using var upstream = await UpstreamAsync(Answer);
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl));
        var (_, key) = await CreateKeyAsync(host, "cascade-billing");
        using var client = ClientWithKey(host, key);

        using var response = await ChatAsync(client, "smart", "Add 20 and 30 carefully, please.");
        Assert.Equal(Strong, Header(response, "x-gateway-deployment"));
        Assert.Equal("escalated", Header(response, "x-gateway-cascade"));
        Assert.Equal("2", Header(response, "x-gateway-attempts"));
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("20 + 30 = 50\n#### 50", body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());

        // Each upstream call reports 100 prompt and 50 completion tokens: weak 150 × $0.5/M, strong 100 × $10/M + 50 × $30/M.
        const decimal expected = 0.000075m + 0.0025m;
        Assert.Equal(expected, decimal.Parse(Header(response, "x-gateway-cost"), CultureInfo.InvariantCulture));
        var usage = await host.Client.GetFromJsonAsync<JsonElement>($"api/v1/usage?requestId={Header(response, "x-request-id")}");
        var record = Assert.Single(usage.GetProperty("data").EnumerateArray());
        Assert.Equal(200, record.GetProperty("promptTokens").GetInt64());
        Assert.Equal(100, record.GetProperty("completionTokens").GetInt64());
        Assert.Equal(expected, record.GetProperty("costUsd").GetDecimal());
        Assert.Equal(Strong, record.GetProperty("deployment").GetString());
    }

    [Fact]
    public async Task When_the_strong_deployment_fails_the_checked_answer_is_served_rather_than_an_error()
    {
        await using var upstream = await UpstreamAsync();
        upstream.Handle(async (context, _) =>
        {
            var model = FakeUpstream.Received(context).Json.GetProperty("model").GetString();
            if (model == "strong-model")
            {
                await FakeUpstream.Json(context, """{"error":{"message":"overloaded","type":"server_error"}}""", 503);
                return;
            }
            await FakeUpstream.Json(context, Completion(model!, "2 + 2 = 5\n#### 5"));
        });
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl));

        using var response = await ChatAsync(host.Client, "smart", "What is 2 + 2?");
        Assert.Equal(Weak, Header(response, "x-gateway-deployment"));
        Assert.Equal("kept", Header(response, "x-gateway-cascade"));
        Assert.Contains("escalation to upstream/strong-model failed", Header(response, "x-gateway-route-reason"), StringComparison.Ordinal);
        Assert.Contains("#### 5", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains(upstream.Requests, static r => r.Json.GetProperty("model").GetString() == "strong-model");
    }

    [Fact]
    public async Task Streamed_calls_and_models_without_cascade_are_routed_by_prediction_alone()
    {
        await using var upstream = await UpstreamAsync(Answer);
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl));

        var body = JsonSerializer.Serialize(new { model = "smart", stream = true, messages = new[] { new { role = "user", content = "Add 1 and 2 carefully, please." } } });
        using var streamed = await host.Client.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
        Assert.Equal("", Header(streamed, "x-gateway-cascade"));
        Assert.StartsWith("warmup:", Header(streamed, "x-gateway-route-reason"), StringComparison.Ordinal);

        await using var plain = await GatewayHost.StartAsync(Config(upstream.BaseUrl).Replace("QualityTarget: 0.95", "QualityTarget: 0.95\n    Cascade: false", StringComparison.Ordinal));
        using var predicted = await ChatAsync(plain.Client, "smart", "Add 1 and 2 carefully, please.");
        Assert.Equal("", Header(predicted, "x-gateway-cascade"));
        Assert.StartsWith("warmup:", Header(predicted, "x-gateway-route-reason"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cascade_setting_that_is_not_a_boolean_is_refused_at_startup()
    {
        await using var upstream = await UpstreamAsync();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHost.StartAsync(Config(upstream.BaseUrl).Replace("QualityTarget: 0.95", "QualityTarget: 0.95\n    Cascade: sometimes", StringComparison.Ordinal)));
        Assert.Contains("Cascade", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("'sometimes' is not true or false", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("He runs 3 x 60 = <<3*60=180>>180 meters.\n#### 180", null, "180")]
    [InlineData("16 - 3 = 13 eggs, then 13 - 4 = 10 eggs.\n#### 10", "one of the answer's calculations is wrong", "10")]
    [InlineData("200 / 100 * 40 = <<200/100*40=80>>80 GB.\nSo the answer is $1,250.", null, "1250")]
    [InlineData("(3 + 4) * 2 = 15 and 10 / 4 = 2.5\n#### 15", "one of the answer's calculations is wrong", "15")]
    [InlineData("The answer is: Paris.", null, "paris")]
    [InlineData("120 + 30 = 151\n#### 151", "one of the answer's calculations is wrong", "151")]
    [InlineData("10 / 3 = 3.33 each, about 10 / 3 = 3 cups, <<80/120=2/3>>\n#### 3", null, "3")]
    [InlineData("Half of 50% of 80 = 20, done: \\boxed{20}", null, "20")]
    [InlineData("", "the answer is empty", null)]
    public void Answer_checks_find_wrong_calculations_and_the_final_answer(string answer, string? hardFailure, string? final)
    {
        var features = AnswerFeatures.Compute("A prompt with 3 numbers: 16, 4 and 80.", answer, "stop");
        Assert.Equal(hardFailure, features.HardFailure);
        Assert.Equal(final, features.FinalAnswer);
        Assert.Equal(AnswerFeatures.Dimensions, features.Vector.Length);
    }

    [Fact]
    public void A_cut_off_answer_fails_and_final_answers_agree_by_value()
    {
        Assert.Equal("the answer was cut off (finish_reason length)", AnswerFeatures.Compute("q", "It is 4", "length").HardFailure);
        var weak = AnswerFeatures.Compute("q", "so she makes $18.00 a day.\n#### 18.00", "stop").FinalAnswer;
        var strong = AnswerFeatures.Compute("q", "She earns 9 * 2 = 18 dollars.\n\n#### 18", "stop").FinalAnswer;
        Assert.True(AnswerFeatures.Agree(weak, strong));
        Assert.False(AnswerFeatures.Agree(weak, AnswerFeatures.Compute("q", "#### 19", "stop").FinalAnswer));
        Assert.False(AnswerFeatures.Agree(null, strong));
    }

    [Theory]
    [InlineData("3*60", 180)]
    [InlineData("2 + 3 x 4", 14)]
    [InlineData("(2 + 3) × 4", 20)]
    [InlineData("1,200 / 4 - 0.5", 299.5)]
    [InlineData("-3 * -2", 6)]
    [InlineData("50% * 80", 40)]
    public void The_arithmetic_evaluator_follows_precedence(string expression, double expected)
    {
        Assert.Equal(expected, AnswerFeatures.Arithmetic.Evaluate(expression)!.Value, 9);
    }

    [Theory]
    [InlineData("3 +")]
    [InlineData("4 / 0")]
    [InlineData("two * 3")]
    [InlineData("(1 + 2")]
    public void The_arithmetic_evaluator_gives_up_on_what_is_not_arithmetic(string expression)
    {
        Assert.Null(AnswerFeatures.Arithmetic.Evaluate(expression));
    }

    private static string Completion(string model, string text) => JsonSerializer.Serialize(new
    {
        id = "chatcmpl-1",
        @object = "chat.completion",
        created = 1,
        model,
        choices = new[] { new { index = 0, message = new { role = "assistant", content = text }, finish_reason = "stop" } },
        usage = new { prompt_tokens = 100, completion_tokens = 50, total_tokens = 150 },
    });
}
