namespace LlmMarketplace.Catalog.Contracts;

/// <summary>Successful gateway calls to one listing version (<c>slug@version</c>) in a window.</summary>
public sealed record ListingCalls(string Listing, long Calls);

/// <summary>
/// Reads how much listings are used, from durable usage every replica shares (implemented by Insights from its rollups,
/// read by Catalog for trending and recommendations). Optional: without an implementation nothing is trending.
/// </summary>
public interface IListingUsageReader
{
    /// <summary>Successful calls per listing version over the last <paramref name="window"/>, by the given teams only when <paramref name="teams"/> is not null.</summary>
    ValueTask<IReadOnlyList<ListingCalls>> SuccessfulCallsAsync(TimeSpan window, IReadOnlyCollection<string>? teams, CancellationToken cancellationToken);
}
