namespace LlmMarketplace.Catalog.Contracts;

/// <summary>
/// What the calls to one listing version measured over a reader's window: <see cref="Requests"/> is 0 and every figure
/// null while it has no traffic. <see cref="MeetsTarget"/> is null when the listing declares no SLA or too few calls
/// were made to judge it.
/// </summary>
public sealed record MeasuredServiceLevel(long Requests, double? P95LatencyMs, double? UptimePercent, bool? MeetsTarget, DateTimeOffset? Since)
{
    public static readonly MeasuredServiceLevel NoTraffic = new(0, null, null, null, null);
}

/// <summary>
/// Reads the measured service level of listing versions (implemented by Insights from its rollups, read by Catalog for
/// service pages and search results). Optional: without an implementation there is no measurement to show.
/// </summary>
public interface IServiceLevelReader
{
    /// <summary>How far back measurements reach.</summary>
    TimeSpan Window { get; }

    /// <summary>
    /// The measured service level of each listing version named <c>slug@version</c>, all read together (never one read
    /// per listing); every name asked for has an answer.
    /// </summary>
    ValueTask<IReadOnlyDictionary<string, MeasuredServiceLevel>> ReadAsync(IReadOnlyCollection<string> listings, CancellationToken cancellationToken);
}
