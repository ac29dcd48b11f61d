using LlmMarketplace.Optimizer.Statistics;

namespace LlmMarketplace.Optimizer.Experiments;

/// <summary>A mean with its 95% confidence interval (Student's t); NaN bounds when there are fewer than two values.</summary>
public sealed record Estimate(long Count, double Mean, double? Low, double? High);

/// <summary>A comparison with the control (the first variant): the difference, the test used, its statistic and two-sided p-value.</summary>
public sealed record Comparison(double Difference, string Test, double? Statistic, double? PValue, bool Significant);

/// <summary>One variant's figures: the primary metric (feedback score) and the guard metrics (cost, latency, error rate).</summary>
public sealed record VariantResults(
    string Name,
    double Share,
    long Calls,
    Estimate Score,
    Estimate CostUsd,
    Estimate LatencyMs,
    Estimate ErrorRate,
    Comparison? ScoreVsControl,
    Comparison? CostVsControl,
    Comparison? LatencyVsControl,
    Comparison? ErrorRateVsControl);

/// <summary>The results of an experiment; <c>best</c> is the variant with the highest mean score (null without feedback).</summary>
public sealed record ExperimentResults(ExperimentDto Experiment, string Control, double Alpha, IReadOnlyList<VariantResults> Variants, string? Best, bool BestIsSignificant);

/// <summary>Per-variant estimates and tests against the control at α = 0.05.</summary>
internal static class ExperimentAnalysis
{
    public const double Alpha = 0.05;

    public static ExperimentResults Analyze(ExperimentDto experiment, IReadOnlyList<ExperimentCallRow> calls)
    {
        var byVariant = experiment.Variants.ToDictionary(static v => v.Name, _ => new List<ExperimentCallRow>(), StringComparer.Ordinal);
        foreach (var call in calls)
        {
            if (byVariant.TryGetValue(call.Variant, out var list)) list.Add(call);
        }
        var control = experiment.Variants[0].Name;
        var controlCalls = byVariant[control];
        var results = new List<VariantResults>();
        for (var i = 0; i < experiment.Variants.Count; i++)
        {
            var name = experiment.Variants[i].Name;
            var mine = byVariant[name];
            var isControl = name == control;
            results.Add(new VariantResults(
                name,
                i < experiment.Shares.Count ? experiment.Shares[i] : 0,
                mine.Count,
                Estimate(Scores(mine)),
                Estimate(mine.Select(static c => (double)c.CostUsd)),
                Estimate(mine.Select(static c => c.LatencyMs)),
                Estimate(mine.Select(static c => c.Status >= 400 ? 1.0 : 0.0)),
                isControl ? null : CompareScores(Scores(controlCalls).ToList(), Scores(mine).ToList()),
                isControl ? null : Welch(controlCalls.Select(static c => (double)c.CostUsd), mine.Select(static c => (double)c.CostUsd)),
                isControl ? null : Welch(controlCalls.Select(static c => c.LatencyMs), mine.Select(static c => c.LatencyMs)),
                isControl ? null : Proportions(controlCalls.Count(static c => c.Status >= 400), controlCalls.Count, mine.Count(static c => c.Status >= 400), mine.Count)));
        }
        var judged = results.Where(static r => r.Score.Count > 0).ToList();
        var best = judged.Count == 0 ? null : judged.MaxBy(static r => r.Score.Mean);
        // The best is significant when it is the control and beats every other significantly, or beats the control significantly.
        var bestIsSignificant = best is not null && (best.Name == control
            ? judged.Where(r => r.Name != control).All(static r => r.ScoreVsControl is { Significant: true, Difference: < 0 })
            : best.ScoreVsControl is { Significant: true, Difference: > 0 });
        return new ExperimentResults(experiment, control, Alpha, results, best?.Name, bestIsSignificant);
    }

    private static IEnumerable<double> Scores(IEnumerable<ExperimentCallRow> calls) =>
        calls.Where(static c => c.Score is not null).Select(static c => c.Score!.Value);

    private static Estimate Estimate(IEnumerable<double> values)
    {
        var summary = SampleSummary.Of(values);
        if (summary.Count == 0) return new Estimate(0, 0, null, null);
        var (low, high) = summary.ConfidenceInterval();
        return new Estimate(summary.Count, summary.Mean, double.IsNaN(low) ? null : low, double.IsNaN(high) ? null : high);
    }

    /// <summary>Scores that are all 0 or 1 are proportions (two-proportion z); others are means (Welch's t).</summary>
    private static Comparison? CompareScores(List<double> control, List<double> variant)
    {
        if (control.Count == 0 || variant.Count == 0) return null;
        if (control.Concat(variant).All(static s => s is 0 or 1))
        {
            return Proportions(control.Sum(), control.Count, variant.Sum(), variant.Count);
        }
        return Welch(control, variant);
    }

    private static Comparison? Welch(IEnumerable<double> control, IEnumerable<double> variant)
    {
        var a = SampleSummary.Of(control);
        var b = SampleSummary.Of(variant);
        if (a.Count == 0 || b.Count == 0) return null;
        var test = Significance.WelchT(a, b);
        return new Comparison(b.Mean - a.Mean, "welch_t", Finite(test.Statistic), Finite(test.PValue), test.PValue < Alpha);
    }

    private static Comparison? Proportions(double successesA, long trialsA, double successesB, long trialsB)
    {
        if (trialsA == 0 || trialsB == 0) return null;
        var test = Significance.TwoProportionZ(successesA, trialsA, successesB, trialsB);
        return new Comparison((successesB / trialsB) - (successesA / trialsA), "two_proportion_z", Finite(test.Statistic), Finite(test.PValue), test.PValue < Alpha);
    }

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;
}
