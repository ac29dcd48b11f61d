using LlmMarketplace.Catalog.Contracts;

namespace LlmMarketplace.Insights.Analytics;

/// <summary>
/// Successful calls per listing version from the rollups (so every replica's traffic counts, and a restart loses
/// nothing): hour buckets for windows up to three days, day buckets beyond. A bucket that started before the window
/// counts whole.
/// </summary>
internal sealed class ListingUsageReader(InsightsStore store, TimeProvider time) : IListingUsageReader
{
    public async ValueTask<IReadOnlyList<ListingCalls>> SuccessfulCallsAsync(TimeSpan window, IReadOnlyCollection<string>? teams, CancellationToken cancellationToken)
    {
        if (teams is { Count: 0 }) return [];
        var granularity = window <= TimeSpan.FromDays(3) ? Granularity.Hour : Granularity.Day;
        var from = Granularity.Floor((time.GetUtcNow() - window).ToUnixTimeMilliseconds(), granularity);
        var sql = """
            SELECT listing AS Listing, CAST(SUM(requests - errors_client - errors_rate_limited - errors_server) AS BIGINT) AS Calls
            FROM insights_rollups WHERE granularity = @granularity AND bucket_ms >= @from AND listing <> ''
            """ + (teams is null ? "" : " AND team_id IN @teams") + " GROUP BY listing";
        await using var connection = await store.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string Listing, long Calls)>(new CommandDefinition(sql, new { granularity, from, teams }, cancellationToken: cancellationToken));
        return [.. rows.Where(static r => r.Calls > 0).Select(static r => new ListingCalls(r.Listing, r.Calls))];
    }
}
