using LlmMarketplace.Optimizer.Statistics;

namespace LlmMarketplace.Optimizer.Tests;

/// <summary>The experiment statistics against published values.</summary>
public sealed class SignificanceTests
{
    [Fact]
    public void Welch_t_test_matches_the_worked_example()
    {
        // Welch's t-test, Wikipedia "Welch's t-test", example 1: t = −2.46, ν ≈ 25.0, p = 0.021.
        double[] a1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4];
        double[] a2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4];
        var result = Significance.WelchT(SampleSummary.Of(a2), SampleSummary.Of(a1));
        Assert.Equal(-2.46, result.Statistic, 2);
        Assert.Equal(25.0, result.DegreesOfFreedom, 0);
        Assert.Equal(0.021, result.PValue, 3);
    }

    [Fact]
    public void Student_t_tail_matches_the_table()
    {
        // Two-sided 5% critical values: 2.228 at 10 degrees of freedom, 2.042 at 30, 12.706 at 1.
        Assert.Equal(0.05, 2 * Significance.StudentTUpperTail(2.228, 10), 3);
        Assert.Equal(0.05, 2 * Significance.StudentTUpperTail(2.042, 30), 3);
        Assert.Equal(0.05, 2 * Significance.StudentTUpperTail(12.706, 1), 3);
        Assert.Equal(2.228, Significance.StudentTQuantile(0.975, 10), 3);
        Assert.Equal(0.5, Significance.StudentTUpperTail(0, 7), 10);
    }

    [Fact]
    public void Two_proportion_z_test_matches_a_hand_computation()
    {
        // 45/100 against 60/100: pooled p = 0.525, se = sqrt(0.525 · 0.475 · 0.02) = 0.070622, z = 0.15 / se = 2.1240, p = 0.0337.
        var result = Significance.TwoProportionZ(45, 100, 60, 100);
        Assert.Equal(2.1240, result.Statistic, 4);
        Assert.Equal(0.0337, result.PValue, 4);
        Assert.Equal(0.05, 2 * Significance.NormalUpperTail(1.959964), 5);
    }

    [Fact]
    public void Confidence_interval_of_a_mean_uses_Student_t()
    {
        // Mean 3, sample variance 2.5 (n = 5): se = 0.70711, t(0.975, 4) = 2.776, half-width 1.9632.
        var summary = SampleSummary.Of([1, 2, 3, 4, 5]);
        Assert.Equal(3, summary.Mean, 10);
        Assert.Equal(2.5, summary.Variance, 10);
        var (low, high) = summary.ConfidenceInterval();
        Assert.Equal(3 - 1.9632, low, 3);
        Assert.Equal(3 + 1.9632, high, 3);
    }
}
