namespace LlmMarketplace.Bench.Optimizer;

/// <summary>One routed call: which model answered, whether it was right, what it cost.</summary>
internal sealed record Routed(int Item, bool Strong, bool Correct, decimal Cost);

/// <summary>The figures of one run over a stream (or a part of it), against always-weak and always-strong on the same prompts.</summary>
internal sealed record RunFigures(int Count, double StrongShare, double Accuracy, double WeakAccuracy, double StrongAccuracy, decimal Cost, decimal WeakCost, decimal StrongCost)
{
    /// <summary>Quality as a share of always-strong's.</summary>
    public double Quality => Accuracy / StrongAccuracy;

    public double Saving => 1 - (double)(Cost / StrongCost);

    /// <summary>Performance gap recovered (RouteLLM): (router − weak) / (strong − weak).</summary>
    public double Pgr => (Accuracy - WeakAccuracy) / (StrongAccuracy - WeakAccuracy);

    /// <summary>What a random router with the same share of strong calls reaches (in expectation).</summary>
    public (double Quality, double Saving) Random
    {
        get
        {
            var accuracy = (StrongShare * StrongAccuracy) + ((1 - StrongShare) * WeakAccuracy);
            var cost = ((decimal)StrongShare * StrongCost) + ((1 - (decimal)StrongShare) * WeakCost);
            return (accuracy / StrongAccuracy, 1 - (double)(cost / StrongCost));
        }
    }

    public static RunFigures Of(IReadOnlyList<Routed> calls, IReadOnlyList<Item> items, IReadOnlyList<decimal> weakCost, IReadOnlyList<decimal> strongCost)
    {
        var n = calls.Count;
        return new RunFigures(
            n,
            calls.Count(static c => c.Strong) / (double)n,
            calls.Count(static c => c.Correct) / (double)n,
            calls.Count(c => items[c.Item].WeakCorrect) / (double)n,
            calls.Count(c => items[c.Item].StrongCorrect) / (double)n,
            calls.Sum(static c => c.Cost),
            calls.Sum(c => weakCost[c.Item]),
            calls.Sum(c => strongCost[c.Item]));
    }
}

/// <summary>RouteLLM's curve figures over operating points (share of strong calls, PGR).</summary>
internal static class Curve
{
    /// <summary>Area under PGR against the share of strong calls, from (0, 0) to (1, 1), by trapezoids: 0.5 for a random router.</summary>
    public static double Apgr(IEnumerable<(double Share, double Pgr)> points)
    {
        var p = Complete(points);
        var area = 0.0;
        for (var i = 1; i < p.Count; i++) area += (p[i].Share - p[i - 1].Share) * (p[i].Pgr + p[i - 1].Pgr) / 2;
        return area;
    }

    /// <summary>The smallest share of strong calls at which the piecewise-linear curve reaches a PGR (RouteLLM's "cost at x% PGR").</summary>
    public static double ShareAt(IEnumerable<(double Share, double Pgr)> points, double pgr)
    {
        var p = Complete(points);
        for (var i = 1; i < p.Count; i++)
        {
            if (p[i].Pgr >= pgr)
            {
                var (x0, y0) = p[i - 1];
                var (x1, y1) = p[i];
                if (y0 >= pgr) return x0;
                return x0 + ((pgr - y0) / (y1 - y0) * (x1 - x0));
            }
        }
        return 1;
    }

    private static List<(double Share, double Pgr)> Complete(IEnumerable<(double Share, double Pgr)> points)
    {
        var list = points.Where(static p => p.Share is > 0 and < 1).ToList();
        list.Add((0, 0));
        list.Add((1, 1));
        return list.OrderBy(static p => p.Share).ThenBy(static p => p.Pgr).ToList();
    }
}
