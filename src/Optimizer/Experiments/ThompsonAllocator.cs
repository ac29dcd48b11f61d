namespace LlmMarketplace.Optimizer.Experiments;

/// <summary>What the allocator knows of a variant: summed feedback scores (successes), feedback count, mean cost per call.</summary>
public readonly record struct ArmEvidence(double Successes, long Trials, double MeanCostUsd);

/// <summary>
/// Adaptive traffic shares by Thompson sampling over Beta(1 + successes, 1 + failures) posteriors: each variant's share
/// is the posterior probability that it is the best, estimated with <c>draws</c> Monte Carlo draws; then every variant
/// is given at least <c>minShare</c>, and when an average cost cap is set and the shares would exceed it, traffic moves
/// to the cheapest variant just enough to meet it (the minimum shares stay).
/// </summary>
public sealed class ThompsonAllocator(Random random, int draws = 2000)
{
    public double[] Shares(IReadOnlyList<ArmEvidence> arms, double minShare, double? maxMeanCostUsd = null)
    {
        var k = arms.Count;
        if (k == 0) return [];
        minShare = Math.Clamp(minShare, 0, 1.0 / k);
        var wins = new double[k];
        var alpha = arms.Select(static a => 1 + a.Successes).ToArray();
        var beta = arms.Select(static a => 1 + Math.Max(0, a.Trials - a.Successes)).ToArray();
        for (var d = 0; d < draws; d++)
        {
            var best = 0;
            var bestValue = double.NegativeInfinity;
            for (var i = 0; i < k; i++)
            {
                var value = SampleBeta(alpha[i], beta[i]);
                if (value > bestValue)
                {
                    bestValue = value;
                    best = i;
                }
            }
            wins[best]++;
        }
        var free = 1 - (k * minShare);
        var shares = wins.Select(w => minShare + (free * w / draws)).ToArray();
        if (maxMeanCostUsd is { } cap) ApplyCostCap(shares, arms, minShare, cap);
        return shares;
    }

    /// <summary>Mixes the shares with "everything beyond the minimums on the cheapest variant" by the smallest weight that meets the cap.</summary>
    private static void ApplyCostCap(double[] shares, IReadOnlyList<ArmEvidence> arms, double minShare, double cap)
    {
        double Cost(double[] s) => s.Select((x, i) => x * arms[i].MeanCostUsd).Sum();
        var current = Cost(shares);
        if (current <= cap) return;
        var cheapest = 0;
        for (var i = 1; i < arms.Count; i++) if (arms[i].MeanCostUsd < arms[cheapest].MeanCostUsd) cheapest = i;
        var floor = Enumerable.Repeat(minShare, arms.Count).ToArray();
        floor[cheapest] = 1 - ((arms.Count - 1) * minShare);
        var lowest = Cost(floor);
        // Cost is linear in the mixing weight: solve current + θ (lowest − current) = cap; infeasible caps get the cheapest mix.
        var theta = lowest >= current ? 1 : Math.Clamp((current - cap) / (current - lowest), 0, 1);
        for (var i = 0; i < shares.Length; i++) shares[i] = ((1 - theta) * shares[i]) + (theta * floor[i]);
    }

    private double SampleBeta(double a, double b)
    {
        var x = SampleGamma(a);
        var y = SampleGamma(b);
        return x / (x + y);
    }

    /// <summary>Marsaglia and Tsang's method (shape ≥ 1 here, since the posteriors start at 1).</summary>
    private double SampleGamma(double shape)
    {
        if (shape < 1) return SampleGamma(shape + 1) * Math.Pow(random.NextDouble(), 1 / shape);
        var d = shape - (1.0 / 3);
        var c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = Normal();
                v = 1 + (c * x);
            }
            while (v <= 0);
            v = v * v * v;
            var u = random.NextDouble();
            if (u < 1 - (0.0331 * x * x * x * x)) return d * v;
            if (Math.Log(u) < (0.5 * x * x) + (d * (1 - v + Math.Log(v)))) return d * v;
        }
    }

    private double Normal()
    {
        // Box–Muller.
        var u1 = 1 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
