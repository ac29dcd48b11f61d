namespace LlmMarketplace.Insights;

/// <summary>The <c>Insights</c> configuration section.</summary>
public sealed record InsightsOptions
{
    public const string SectionName = "Insights";

    /// <summary>How often the rollup worker reads new usage when no commit woke it.</summary>
    public TimeSpan RollupInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Usage records read and applied per transaction.</summary>
    public int RollupBatchSize { get; init; } = 5000;

    /// <summary>How long a gap in usage sequence numbers is waited for (a commit in flight) before it is stepped over.</summary>
    public TimeSpan GapTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long minute buckets are kept.</summary>
    public TimeSpan MinuteRetention { get; init; } = TimeSpan.FromDays(2);

    /// <summary>How long hour buckets are kept.</summary>
    public TimeSpan HourRetention { get; init; } = TimeSpan.FromDays(90);

    /// <summary>How long day buckets are kept; zero keeps them for ever.</summary>
    public TimeSpan DayRetention { get; init; } = TimeSpan.Zero;

    /// <summary>The rolling window SLA measurements cover.</summary>
    public TimeSpan SlaWindow { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How often SLAs are evaluated (after new usage was rolled up).</summary>
    public TimeSpan SlaEvaluationInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Fewer requests than this in the window are not judged against an SLA.</summary>
    public int SlaMinRequests { get; init; } = 20;

    /// <summary>The window a listing's measured service level (shown on service pages and search results) covers.</summary>
    public TimeSpan ServiceLevelWindow { get; init; } = TimeSpan.FromDays(30);

    /// <summary>How long a listing's measured service level is reused before it is read from the rollups again.</summary>
    public TimeSpan ServiceLevelRefresh { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the statement closer looks for a month that has ended (its statements are then announced once).</summary>
    public TimeSpan StatementCloseInterval { get; init; } = TimeSpan.FromMinutes(5);
}
