using LlmMarketplace.Catalog.Contracts;

namespace LlmMarketplace.Catalog.Search;

/// <summary>
/// Usage of listings for trending and recommendations, read from durable usage every replica shares
/// (<see cref="IListingUsageReader"/>, the Insights module's rollups): the same answer on every replica and after a
/// restart. Without a reader (no Insights module) nothing is trending.
/// </summary>
internal sealed class UsageTracker(CatalogState state, IListingUsageReader reader)
{
    /// <summary>The window of trending listings.</summary>
    public static readonly TimeSpan TrendingWindow = TimeSpan.FromHours(24);

    /// <summary>How far back what a team uses is looked at for recommendations.</summary>
    public static readonly TimeSpan TeamWindow = TimeSpan.FromDays(30);

    /// <summary>Listings by successful calls in the last 24 hours, most first.</summary>
    public async Task<List<(string ServiceId, long Calls)>> TrendingAsync(int limit, CancellationToken ct) =>
        [.. (await ByServiceAsync(TrendingWindow, null, ct)).Take(limit)];

    /// <summary>What the teams use (successful calls in the last 30 days), most first.</summary>
    public async Task<List<string>> UsedByAsync(IReadOnlyCollection<string> teams, CancellationToken ct) =>
        teams.Count == 0 ? [] : [.. (await ByServiceAsync(TeamWindow, teams, ct)).Select(static s => s.ServiceId)];

    /// <summary>Calls per listing version folded into their listing (<c>slug@version</c> → the service), most first.</summary>
    private async Task<List<(string ServiceId, long Calls)>> ByServiceAsync(TimeSpan window, IReadOnlyCollection<string>? teams, CancellationToken ct)
    {
        var calls = await reader.SuccessfulCallsAsync(window, teams, ct);
        var snapshot = state.Current;
        var byService = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (listing, count) in calls)
        {
            var at = listing.LastIndexOf('@');
            var slug = at > 0 ? listing[..at] : listing;
            if (!snapshot.BySlug.TryGetValue(slug, out var entry)) continue;
            byService[entry.Service.Id] = byService.GetValueOrDefault(entry.Service.Id) + count;
        }
        return [.. byService.Select(static kv => (kv.Key, kv.Value)).OrderByDescending(static x => x.Value).ThenBy(static x => x.Key, StringComparer.Ordinal)];
    }
}
