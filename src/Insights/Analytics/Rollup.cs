using LlmMarketplace.Access.Metering;

namespace LlmMarketplace.Insights.Analytics;

/// <summary>The bucket sizes usage is rolled up into: minute, hour and day (UTC).</summary>
internal static class Granularity
{
    public const string Minute = "m";
    public const string Hour = "h";
    public const string Day = "d";

    public static readonly string[] All = [Minute, Hour, Day];

    public static long Millis(string granularity) => granularity switch
    {
        Minute => 60_000L,
        Hour => 3_600_000L,
        Day => 86_400_000L,
        _ => throw new ArgumentOutOfRangeException(nameof(granularity)),
    };

    public static long Floor(long ms, string granularity)
    {
        var size = Millis(granularity);
        return ms - (((ms % size) + size) % size);
    }
}

/// <summary>The dimensions of a rollup row ('' where the record had none).</summary>
internal readonly record struct RollupDimensions(string Team, string App, string Key, string Model, string Listing, string Deployment, string Provider);

internal readonly record struct RollupKey(string Granularity, long BucketMs, RollupDimensions Dimensions);

/// <summary>The error classes usage is counted in: client (4xx but 429), rate limited (429) and server (5xx).</summary>
internal static class ErrorClass
{
    public static bool IsError(int status) => status >= 400;
}

/// <summary>The sums every rollup row carries, stored, read back and merged alike: requests, tokens, cost, errors by class and cache hits.</summary>
internal abstract class RollupSums
{
    public long Requests { get; set; }
    public long PromptTokens { get; set; }
    public long CompletionTokens { get; set; }
    public long CachedTokens { get; set; }
    public decimal CostUsd { get; set; }
    public long ErrorsClient { get; set; }
    public long ErrorsRateLimited { get; set; }
    public long ErrorsServer { get; set; }
    public long CacheHits { get; set; }

    /// <summary>Adds <paramref name="other"/>'s sums to these.</summary>
    public void AddSums(RollupSums other)
    {
        Requests += other.Requests;
        PromptTokens += other.PromptTokens;
        CompletionTokens += other.CompletionTokens;
        CachedTokens += other.CachedTokens;
        CostUsd += other.CostUsd;
        ErrorsClient += other.ErrorsClient;
        ErrorsRateLimited += other.ErrorsRateLimited;
        ErrorsServer += other.ErrorsServer;
        CacheHits += other.CacheHits;
    }
}

/// <summary>Sums and sketches of one rollup row, accumulated in memory before they are merged into storage.</summary>
internal sealed class RollupCell : RollupSums
{
    public DDSketch Latency = new();
    public DDSketch Ttft = new();

    public void Add(UsageEvent e)
    {
        Requests++;
        PromptTokens += e.PromptTokens;
        CompletionTokens += e.CompletionTokens;
        CachedTokens += e.CachedTokens;
        CostUsd += e.CostUsd;
        if (e.Status == 429) ErrorsRateLimited++;
        else if (e.Status >= 500) ErrorsServer++;
        else if (e.Status >= 400) ErrorsClient++;
        if (e.Cache is "HIT" or "SEMANTIC-HIT") CacheHits++;
        Latency.Add(e.LatencyMs);
        if (e.TtftMs is { } ttft) Ttft.Add(ttft);
    }

    public void Merge(RollupCell other)
    {
        AddSums(other);
        Latency.Merge(other.Latency);
        Ttft.Merge(other.Ttft);
    }
}

/// <summary>Folds usage records into rollup cells for every granularity.</summary>
internal static class RollupBuilder
{
    /// <summary>The cells summed over every dimension, per bucket.</summary>
    public static Dictionary<(string Granularity, long BucketMs), RollupCell> Totals(IReadOnlyDictionary<RollupKey, RollupCell> cells)
    {
        var totals = new Dictionary<(string, long), RollupCell>();
        foreach (var (key, cell) in cells)
        {
            if (!totals.TryGetValue((key.Granularity, key.BucketMs), out var total)) totals[(key.Granularity, key.BucketMs)] = total = new RollupCell();
            total.Merge(cell);
        }
        return totals;
    }

    /// <summary>
    /// The per-dimension rows of calls to a listing version that reached a deployment (value <c>slug@version</c>): what a
    /// listing's measured service level is read from. Not an analytics dimension.
    /// </summary>
    public const string ServedListingDimension = "listing_served";

    /// <summary>The cells summed per value of each single dimension (and per served listing), per bucket.</summary>
    public static Dictionary<(string Granularity, long BucketMs, string Dimension, string Value), RollupCell> ByDimension(IReadOnlyDictionary<RollupKey, RollupCell> cells)
    {
        var result = new Dictionary<(string, long, string, string), RollupCell>();
        foreach (var (key, cell) in cells)
        {
            var d = key.Dimensions;
            foreach (var (dimension, value) in new[] { ("team", d.Team), ("app", d.App), ("key", d.Key), ("model", d.Model), ("listing", d.Listing), ("deployment", d.Deployment), ("provider", d.Provider) })
            {
                var k = (key.Granularity, key.BucketMs, dimension, value);
                if (!result.TryGetValue(k, out var sum)) result[k] = sum = new RollupCell();
                sum.Merge(cell);
            }
            // A listing's measured service level counts the calls that reached one of its deployments (as SLA tracking
            // does), so rejections before routing (rate limits, quotas, policy) weigh neither on its latency nor its uptime.
            if (d.Listing.Length > 0 && d.Deployment.Length > 0)
            {
                var k = (key.Granularity, key.BucketMs, ServedListingDimension, d.Listing);
                if (!result.TryGetValue(k, out var sum)) result[k] = sum = new RollupCell();
                sum.Merge(cell);
            }
        }
        return result;
    }

    public static Dictionary<RollupKey, RollupCell> Build(IEnumerable<UsageEvent> events, Func<string, string?> listingOf)
    {
        var cells = new Dictionary<RollupKey, RollupCell>();
        foreach (var e in events)
        {
            var dims = new RollupDimensions(e.TeamId ?? "", e.AppId ?? "", e.KeyId ?? "", e.Model, listingOf(e.Model) ?? "", e.Deployment ?? "", e.Provider ?? "");
            foreach (var g in Granularity.All)
            {
                var key = new RollupKey(g, Granularity.Floor(e.AtMs, g), dims);
                if (!cells.TryGetValue(key, out var cell)) cells[key] = cell = new RollupCell();
                cell.Add(e);
            }
        }
        return cells;
    }
}
