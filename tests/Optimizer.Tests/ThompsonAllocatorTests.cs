using LlmMarketplace.Optimizer.Experiments;

namespace LlmMarketplace.Optimizer.Tests;

/// <summary>Thompson sampling with minimum shares and a cost cap, in seeded simulations with Bernoulli arms.</summary>
public sealed class ThompsonAllocatorTests
{
    /// <summary>
    /// The stated guarantee: with four Bernoulli variants (0.30, 0.40, 0.45, 0.50: the best leads by 0.05), a 5% minimum
    /// share each and a budget of 3,000 calls (shares re-fitted every 50 calls), the variant with the highest posterior
    /// mean at the end is the best one in at least 95% of 200 seeded runs.
    /// </summary>
    [Fact]
    public void Finds_the_best_Bernoulli_arm_with_probability_at_least_95_percent_within_3000_calls()
    {
        double[] truth = [0.30, 0.40, 0.45, 0.50];
        const int runs = 200;
        var found = 0;
        for (var run = 0; run < runs; run++)
        {
            var random = new Random(1000 + run);
            var allocator = new ThompsonAllocator(random, draws: 400);
            var successes = new double[truth.Length];
            var trials = new long[truth.Length];
            var shares = Enumerable.Repeat(1.0 / truth.Length, truth.Length).ToArray();
            for (var call = 0; call < 3000; call++)
            {
                if (call % 50 == 0 && call > 0)
                {
                    shares = allocator.Shares(Evidence(successes, trials), minShare: 0.05);
                }
                var arm = Pick(shares, random.NextDouble());
                trials[arm]++;
                if (random.NextDouble() < truth[arm]) successes[arm]++;
            }
            var best = Enumerable.Range(0, truth.Length).MaxBy(i => (successes[i] + 1) / (trials[i] + 2));
            if (best == 3) found++;
            Assert.All(trials, static t => Assert.True(t >= 100, "every variant keeps its minimum share"));
        }
        Assert.True(found >= runs * 0.95, $"the best variant was found in {found} of {runs} runs");
    }

    [Fact]
    public void Shares_keep_the_minimum_and_favour_the_better_variant()
    {
        var allocator = new ThompsonAllocator(new Random(3));
        var shares = allocator.Shares([new ArmEvidence(30, 100, 0.01), new ArmEvidence(60, 100, 0.01)], minShare: 0.1);
        Assert.Equal(1.0, shares.Sum(), 9);
        Assert.True(shares[0] >= 0.1 - 1e-12);
        Assert.True(shares[1] > 0.85, $"the clearly better variant got {shares[1]:P0}");
    }

    [Fact]
    public void A_cost_cap_moves_traffic_to_the_cheaper_variant_just_enough()
    {
        var allocator = new ThompsonAllocator(new Random(5));
        ArmEvidence[] arms = [new(30, 100, 0.001), new(60, 100, 0.010)];
        var free = allocator.Shares(arms, minShare: 0.1);
        Assert.True(free[0] * 0.001 + free[1] * 0.010 > 0.005);
        var capped = allocator.Shares(arms, minShare: 0.1, maxMeanCostUsd: 0.005);
        var cost = (capped[0] * 0.001) + (capped[1] * 0.010);
        Assert.Equal(0.005, cost, 6);
        Assert.True(capped[1] >= 0.1 - 1e-12);
        // An impossible cap gives the cheapest mix the minimum shares allow.
        var impossible = allocator.Shares(arms, minShare: 0.1, maxMeanCostUsd: 0.0001);
        Assert.Equal(0.9, impossible[0], 9);
        Assert.Equal(0.1, impossible[1], 9);
    }

    private static ArmEvidence[] Evidence(double[] successes, long[] trials) =>
        successes.Select((s, i) => new ArmEvidence(s, trials[i], 0)).ToArray();

    private static int Pick(double[] shares, double u)
    {
        var cumulative = 0.0;
        for (var i = 0; i < shares.Length; i++)
        {
            cumulative += shares[i];
            if (u < cumulative) return i;
        }
        return shares.Length - 1;
    }
}
