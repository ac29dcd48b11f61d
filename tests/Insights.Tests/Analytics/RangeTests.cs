using LlmMarketplace.Insights.Analytics;

namespace LlmMarketplace.Insights.Tests.Analytics;

public sealed class RangeTests
{
    private static long Ms(string iso) => DateTimeOffset.Parse(iso, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();

    [Theory]
    [InlineData("2026-03-01T10:17:00Z", "2026-03-01T10:43:00Z")]
    [InlineData("2026-03-01T10:17:00Z", "2026-03-01T13:05:00Z")]
    [InlineData("2026-03-01T10:17:00Z", "2026-03-09T13:05:00Z")]
    [InlineData("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")]
    [InlineData("2026-03-01T00:00:00Z", "2026-03-01T01:00:00Z")]
    public void A_range_is_tiled_by_buckets_without_gaps_or_overlaps(string from, string to)
    {
        var parts = AnalyticsQuery.Decompose(Ms(from), Ms(to));
        // Every minute of the range is covered by exactly one part, and each part is aligned to its granularity.
        var covered = parts.Sum(static p => p.ToMs - p.FromMs);
        Assert.Equal(Ms(to) - Ms(from), covered);
        foreach (var p in parts)
        {
            Assert.Equal(0, p.FromMs % Granularity.Millis(p.Granularity));
            Assert.Equal(0, p.ToMs % Granularity.Millis(p.Granularity));
            Assert.True(p.FromMs >= Ms(from) && p.ToMs <= Ms(to));
            Assert.DoesNotContain(parts, o => o != p && o.FromMs < p.ToMs && p.FromMs < o.ToMs);
        }
        if (Ms(to) - Ms(from) >= 2 * Granularity.Millis(Granularity.Day))
        {
            Assert.Contains(parts, static p => p.Granularity == Granularity.Day);
        }
    }
}
