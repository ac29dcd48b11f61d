using LlmMarketplace.Gateway.Configuration;

namespace LlmMarketplace.Gateway.Routing;

/// <summary>Orders a model's deployments for one request according to its routing mode and the request's narrowing.</summary>
internal static class Router
{
    /// <summary>Orders the deployments; a deployment must pass every given filter (the body's <c>provider</c> and the <c>x-gateway-route</c> header).</summary>
    public static List<RoutableDeployment> Order(RoutableModel model, RouteFilter? filter, RouteFilter? additional = null)
    {
        var candidates = new List<RoutableDeployment>(model.Deployments.Count);
        foreach (var d in model.Deployments)
        {
            if (Passes(d, filter) && Passes(d, additional))
            {
                candidates.Add(d);
            }
        }
        var order = additional?.Order is { Count: > 0 } ? additional.Order : filter?.Order;
        if (candidates.Count <= 1)
        {
            return candidates;
        }

        switch (model.Config.Routing)
        {
            case RoutingMode.Weighted:
                WeightedShuffle(candidates);
                break;
            case RoutingMode.Latency:
                // Unobserved deployments (0 ms) go first so that every deployment gets measured.
                candidates.Sort(static (a, b) => a.Health.LatencyMs.CompareTo(b.Health.LatencyMs));
                break;
            case RoutingMode.Cost:
            case RoutingMode.Auto:
                candidates.Sort(static (a, b) => a.BlendedPrice.CompareTo(b.BlendedPrice));
                break;
            case RoutingMode.Hybrid:
                SortHybrid(candidates, model.Config.Hybrid);
                break;
        }

        if (order is { Count: > 0 })
        {
            // Stable: listed deployments first in the listed order, the rest after in routing order.
            var ranked = candidates
                .Select((d, i) => (d, rank: IndexOf(order, d), i))
                .OrderBy(static x => x.rank)
                .ThenBy(static x => x.i)
                .Select(static x => x.d)
                .ToList();
            return ranked;
        }
        return candidates;
    }

    /// <summary>score = w_cost·(1 − cost/max_cost) + w_perf·(1 − latency/max_latency) + w_rel·success_rate.</summary>
    internal static double HybridScore(RoutableDeployment d, decimal maxCost, double maxLatency, HybridWeights w)
    {
        var cost = maxCost > 0 ? 1 - (double)(d.BlendedPrice / maxCost) : 1;
        var perf = maxLatency > 0 ? 1 - (d.Health.LatencyMs / maxLatency) : 1;
        return (w.Cost * cost) + (w.Performance * perf) + (w.Reliability * d.Health.SuccessRate);
    }

    private static void SortHybrid(List<RoutableDeployment> candidates, HybridWeights weights)
    {
        var maxCost = candidates.Max(static d => d.BlendedPrice);
        var maxLatency = candidates.Max(static d => d.Health.LatencyMs);
        var scored = candidates.Select(d => (d, score: HybridScore(d, maxCost, maxLatency, weights))).ToList();
        scored.Sort(static (a, b) => b.score.CompareTo(a.score));
        for (var i = 0; i < scored.Count; i++) candidates[i] = scored[i].d;
    }

    private static void WeightedShuffle(List<RoutableDeployment> candidates)
    {
        // Efraimidis–Spirakis: key = u^(1/w), descending, gives a weighted order without replacement.
        var keyed = candidates
            .Select(static d => (d, key: d.Config.Weight <= 0 ? -1 : Math.Pow(Random.Shared.NextDouble(), 1.0 / d.Config.Weight)))
            .OrderByDescending(static x => x.key)
            .ToList();
        for (var i = 0; i < keyed.Count; i++) candidates[i] = keyed[i].d;
    }

    private static bool Passes(RoutableDeployment d, RouteFilter? filter)
    {
        if (filter is null) return true;
        if (filter.Only is { Count: > 0 } only && !MatchesAny(d, only)) return false;
        if (filter.Ignore is { Count: > 0 } ignore && MatchesAny(d, ignore)) return false;
        return true;
    }

    public static bool MatchesAny(RoutableDeployment d, IReadOnlyList<string> names)
    {
        foreach (var name in names)
        {
            if (Matches(d, name)) return true;
        }
        return false;
    }

    private static bool Matches(RoutableDeployment d, string name) =>
        string.Equals(d.Provider.Name, name, StringComparison.OrdinalIgnoreCase) ||
        string.Equals(d.Id, name, StringComparison.OrdinalIgnoreCase) ||
        string.Equals(d.Config.Region, name, StringComparison.OrdinalIgnoreCase);

    private static int IndexOf(IReadOnlyList<string> order, RoutableDeployment d)
    {
        for (var i = 0; i < order.Count; i++)
        {
            if (Matches(d, order[i])) return i;
        }
        return int.MaxValue;
    }
}
