using System.Text.RegularExpressions;

namespace LlmMarketplace.Access.Statements;

/// <summary>A calendar month in UTC, written <c>YYYY-MM</c>: the period of a statement.</summary>
public readonly partial record struct StatementMonth(int Year, int Month)
{
    public DateTimeOffset Start => new(Year, Month, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The first instant after the month.</summary>
    public DateTimeOffset End => Start.AddMonths(1);

    public int Days => DateTime.DaysInMonth(Year, Month);

    public StatementMonth Previous() => Of(Start.AddMonths(-1));

    public static StatementMonth Of(DateTimeOffset time)
    {
        var utc = time.ToUniversalTime();
        return new StatementMonth(utc.Year, utc.Month);
    }

    /// <summary>Parses <c>YYYY-MM</c> (years 2000 to 9998).</summary>
    public static bool TryParse(string? text, out StatementMonth month)
    {
        month = default;
        if (text is null || !Pattern().IsMatch(text)) return false;
        var year = int.Parse(text.AsSpan(0, 4), CultureInfo.InvariantCulture);
        var m = int.Parse(text.AsSpan(5, 2), CultureInfo.InvariantCulture);
        if (year is < 2000 or > 9998 || m is < 1 or > 12) return false;
        month = new StatementMonth(year, m);
        return true;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Year:D4}-{Month:D2}");

    [GeneratedRegex("^[0-9]{4}-[0-9]{2}$")]
    private static partial Regex Pattern();
}

/// <summary>A plan's monthly price for the days of the month a subscription was billable.</summary>
public sealed record SubscriptionFeeLine(
    string SubscriptionId,
    string AppId,
    string PlanId,
    string PlanName,
    string Model,
    decimal MonthlyPriceUsd,
    DateTimeOffset From,
    DateTimeOffset To,
    int Days,
    int DaysInMonth,
    decimal AmountUsd);

/// <summary>The metered cost of a team's calls to one model (and catalog listing, where the model is one) in the month.</summary>
public sealed record UsageLine(string Model, string? Listing, long Requests, long PromptTokens, long CompletionTokens, decimal AmountUsd);

/// <summary>A credit (negative) or debit (positive) an admin added, with the reason.</summary>
public sealed record AdjustmentLine(string Id, string Team, string Month, decimal AmountUsd, string Reason, string CreatedBy, DateTimeOffset CreatedAt);

/// <summary>Subtotals rounded half to even to cents, and their sum.</summary>
public sealed record StatementTotals(decimal SubscriptionsUsd, decimal UsageUsd, decimal AdjustmentsUsd, decimal TotalUsd);

/// <summary>
/// What a team owes for a month: subscription fees prorated by billable days, usage cost by model and listing,
/// adjustments, and totals. Line items keep full precision; totals are rounded (see <see cref="Rounding"/>).
/// </summary>
public sealed record Statement(
    string Team,
    string? TeamName,
    string Month,
    string Currency,
    DateTimeOffset From,
    DateTimeOffset To,
    bool Closed,
    IReadOnlyList<SubscriptionFeeLine> Subscriptions,
    IReadOnlyList<UsageLine> Usage,
    IReadOnlyList<AdjustmentLine> Adjustments,
    StatementTotals Totals)
{
    public const string Usd = "USD";

    public string Rounding => Money.RoundingRule;
}

/// <summary>What one plan on a publisher's listing earned in the month.</summary>
public sealed record PlanRevenue(string PlanId, string PlanName, int Subscriptions, decimal AmountUsd);

/// <summary>What one listing earned: usage by every consuming team, and subscription fees per plan.</summary>
public sealed record ListingRevenue(string Listing, long Requests, decimal UsageUsd, IReadOnlyList<PlanRevenue> Plans, decimal SubscriptionsUsd, decimal TotalUsd);

/// <summary>The revenue of the listings a team publishes, per listing and plan, for a month.</summary>
public sealed record PublisherStatement(string Team, string? TeamName, string Month, string Currency, bool Closed, IReadOnlyList<ListingRevenue> Listings, decimal TotalUsd)
{
    public string Rounding => Money.RoundingRule;
}

/// <summary>How money is rounded on statements.</summary>
public static class Money
{
    public const string RoundingRule = "Line items keep full precision; each subtotal is rounded half to even to cents; the total is the sum of the rounded subtotals.";

    public static decimal Cents(decimal amount) => Math.Round(amount, 2, MidpointRounding.ToEven);
}
