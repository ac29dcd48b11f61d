using LlmMarketplace.Catalog.Contracts;

namespace LlmMarketplace.Catalog.ServiceLevels;

/// <summary>
/// A listing version's measured service level on its service page: over <see cref="Window"/> (<c>30d</c>), the calls that
/// reached a deployment, their p95 latency and uptime (null without traffic), whether they keep the declared SLA (null
/// without a declared SLA or with too few calls to judge) and the start of the earliest measured bucket.
/// </summary>
internal sealed record MeasuredSlaView(string Window, long Requests, double? P95LatencyMs, double? UptimePercent, bool? MeetsTarget, DateTimeOffset? Since);

/// <summary>The short form search results carry: the window is the service page's.</summary>
internal sealed record MeasuredSlaSummary(long Requests, double? P95LatencyMs, double? UptimePercent, bool? MeetsTarget);

/// <summary>
/// The catalog's side of <see cref="IServiceLevelReader"/>: present when a module (Insights) measures listings, else every
/// answer is null. A failed read is logged and answered as null too: a page without measurements beats no page.
/// </summary>
internal sealed class ListingServiceLevels(IServiceLevelReader reader, ILogger<ListingServiceLevels> logger)
{
    /// <summary>The measured service level of each <c>slug@version</c>, in one read; null when nothing measures listings or the read failed.</summary>
    public async ValueTask<IReadOnlyDictionary<string, MeasuredServiceLevel>?> ReadAsync(IReadOnlyCollection<string> names, CancellationToken ct)
    {
        if (names.Count == 0) return null;
        try
        {
            return await reader.ReadAsync(names, ct);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            Log.ServiceLevelReadFailed(logger, ex);
            return null;
        }
    }

    public async ValueTask<MeasuredSlaView?> ViewAsync(string slug, string version, CancellationToken ct)
    {
        var name = Name(slug, version);
        var levels = await ReadAsync([name], ct);
        return levels?.GetValueOrDefault(name) is { } m ? new MeasuredSlaView(WindowText(reader.Window), m.Requests, m.P95LatencyMs, m.UptimePercent, m.MeetsTarget, m.Since) : null;
    }

    public static MeasuredSlaSummary? Summary(IReadOnlyDictionary<string, MeasuredServiceLevel>? levels, string slug, string version) =>
        levels?.GetValueOrDefault(Name(slug, version)) is { } m ? new MeasuredSlaSummary(m.Requests, m.P95LatencyMs, m.UptimePercent, m.MeetsTarget) : null;

    /// <summary>How analytics and SLA tracking name a listing version.</summary>
    public static string Name(string slug, string version) => slug + "@" + version;

    /// <summary><c>30d</c>, <c>12h</c>, <c>90m</c>, <c>45s</c>: the largest unit the window is a whole number of.</summary>
    public static string WindowText(TimeSpan window) =>
        window.Ticks % TimeSpan.TicksPerDay == 0 ? ((long)window.TotalDays).ToString(CultureInfo.InvariantCulture) + "d"
        : window.Ticks % TimeSpan.TicksPerHour == 0 ? ((long)window.TotalHours).ToString(CultureInfo.InvariantCulture) + "h"
        : window.Ticks % TimeSpan.TicksPerMinute == 0 ? ((long)window.TotalMinutes).ToString(CultureInfo.InvariantCulture) + "m"
        : ((long)window.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "s";
}
