namespace LlmMarketplace.Access.Budgets;

/// <summary>Calendar-aligned budget periods (daily, weekly from Monday, monthly) in a configured time zone.</summary>
public static class BudgetPeriod
{
    public const string Daily = "daily";
    public const string Weekly = "weekly";
    public const string Monthly = "monthly";

    /// <summary>No reset: everything ever spent (policy caps only; Access budgets take the three calendar periods).</summary>
    public const string Total = "total";

    public static readonly IReadOnlyList<string> All = [Daily, Weekly, Monthly];

    public static bool IsValid(string? period) => period is Daily or Weekly or Monthly;

    /// <summary>The instant the period containing <paramref name="now"/> began.</summary>
    public static DateTimeOffset Start(string period, DateTimeOffset now, TimeZoneInfo zone)
    {
        if (period == Total) return DateTimeOffset.UnixEpoch;
        var local = TimeZoneInfo.ConvertTime(now, zone).DateTime.Date;
        var start = period switch
        {
            Daily => local,
            Weekly => local.AddDays(-(((int)local.DayOfWeek + 6) % 7)),
            Monthly => new DateTime(local.Year, local.Month, 1, 0, 0, 0, DateTimeKind.Unspecified),
            _ => throw new ArgumentOutOfRangeException(nameof(period), period, "Unknown budget period."),
        };
        return ToInstant(start, zone);
    }

    /// <summary>The instant the period containing <paramref name="now"/> ends (the next one begins).</summary>
    public static DateTimeOffset End(string period, DateTimeOffset now, TimeZoneInfo zone)
    {
        if (period == Total) return DateTimeOffset.MaxValue;
        var start = TimeZoneInfo.ConvertTime(Start(period, now, zone), zone).DateTime;
        var next = period switch
        {
            Daily => start.AddDays(1),
            Weekly => start.AddDays(7),
            _ => start.AddMonths(1),
        };
        return ToInstant(DateTime.SpecifyKind(next, DateTimeKind.Unspecified), zone);
    }

    private static DateTimeOffset ToInstant(DateTime localMidnight, TimeZoneInfo zone)
    {
        var unspecified = DateTime.SpecifyKind(localMidnight, DateTimeKind.Unspecified);
        // Where midnight does not exist (a DST jump at 00:00), the day begins at the first valid minute after it.
        while (zone.IsInvalidTime(unspecified)) unspecified = unspecified.AddMinutes(30);
        var offset = zone.GetUtcOffset(unspecified);
        return new DateTimeOffset(unspecified, offset);
    }
}
