using LlmMarketplace.Access.Keys;
using LlmMarketplace.Access.Plans;

namespace LlmMarketplace.Access.Statements;

/// <summary>
/// Builds statements from the Access module's own records: subscriptions and their plans' prices, the metered cost of
/// every call, and the adjustments admins added. Nothing is stored but the adjustments: a statement is the same
/// whenever it is read, once its month has ended.
/// </summary>
public sealed class StatementService
{
    private readonly AccessStore _store;
    private readonly AccessDirectory _directory;
    private readonly TimeProvider _time;

    internal StatementService(AccessStore store, AccessDirectory directory, TimeProvider time)
    {
        _store = store;
        _directory = directory;
        _time = time;
    }

    /// <summary>The teams that existed before <paramref name="before"/>.</summary>
    public IReadOnlyList<string> TeamsCreatedBefore(DateTimeOffset before) =>
        [.. _directory.Current.Teams.Values.Where(t => t.CreatedAtMs < before.ToUnixTimeMilliseconds()).Select(static t => t.Id).Order(StringComparer.Ordinal)];

    /// <summary>The team's name, or null for an unknown team.</summary>
    public string? TeamName(string teamId) => _directory.Current.Teams.GetValueOrDefault(teamId)?.Name;

    /// <summary>The statement of a team for a month.</summary>
    public async Task<Statement> BuildAsync(string teamId, StatementMonth month, CancellationToken cancellationToken)
    {
        var snapshot = _directory.Current;
        var fees = snapshot.Subscriptions.Values
            .Where(s => snapshot.Apps.GetValueOrDefault(s.AppId)?.TeamId == teamId)
            .Select(s => Fee(s, snapshot.Plans.GetValueOrDefault(s.PlanId), month))
            .OfType<SubscriptionFeeLine>()
            .OrderBy(static f => f.From).ThenBy(static f => f.SubscriptionId, StringComparer.Ordinal)
            .ToList();

        var (fromMs, toMs) = (month.Start.ToUnixTimeMilliseconds(), month.End.ToUnixTimeMilliseconds());
        List<UsageLine> usage;
        List<AdjustmentLine> adjustments;
        await using (var connection = await _store.OpenUsageAsync(cancellationToken))
        {
            var rows = await connection.QueryAsync<UsageSumRow>(new CommandDefinition("""
                SELECT model, listing, COUNT(*) AS requests, SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens, SUM(cost_usd) AS cost_usd
                FROM access_usage WHERE team_id = @teamId AND at_ms >= @fromMs AND at_ms < @toMs
                GROUP BY model, listing
                """, new { teamId, fromMs, toMs }, cancellationToken: cancellationToken));
            usage = [.. rows.Select(static r => new UsageLine(r.Model, r.Listing, r.Requests, r.PromptTokens, r.CompletionTokens, r.CostUsd))
                .OrderByDescending(static u => u.AmountUsd).ThenBy(static u => u.Model, StringComparer.Ordinal).ThenBy(static u => u.Listing, StringComparer.Ordinal)];
        }
        await using (var connection = await _store.OpenAsync(cancellationToken))
        {
            var adjusted = await connection.QueryAsync<AdjustmentRow>(new CommandDefinition(
                "SELECT * FROM access_statement_adjustments WHERE team_id = @teamId AND month = @month ORDER BY created_at_ms, id",
                new { teamId, month = month.ToString() }, cancellationToken: cancellationToken));
            adjustments = [.. adjusted.Select(ToLine)];
        }

        var subscriptionsUsd = Money.Cents(fees.Sum(static f => f.AmountUsd));
        var usageUsd = Money.Cents(usage.Sum(static u => u.AmountUsd));
        var adjustmentsUsd = Money.Cents(adjustments.Sum(static a => a.AmountUsd));
        return new Statement(teamId, snapshot.Teams.GetValueOrDefault(teamId)?.Name, month.ToString(), Statement.Usd, month.Start, month.End,
            _time.GetUtcNow() >= month.End, fees, usage, adjustments,
            new StatementTotals(subscriptionsUsd, usageUsd, adjustmentsUsd, subscriptionsUsd + usageUsd + adjustmentsUsd));
    }

    /// <summary>
    /// The revenue of <paramref name="listings"/> (slugs a team publishes) in a month: the usage cost every consuming team
    /// was charged for them, and the subscription fees of the plans offered on them.
    /// </summary>
    public async Task<PublisherStatement> BuildPublisherAsync(string teamId, IReadOnlyCollection<string> listings, StatementMonth month, CancellationToken cancellationToken)
    {
        var snapshot = _directory.Current;
        var (fromMs, toMs) = (month.Start.ToUnixTimeMilliseconds(), month.End.ToUnixTimeMilliseconds());
        var usage = new Dictionary<string, UsageSumRow>(StringComparer.Ordinal);
        if (listings.Count > 0)
        {
            await using var connection = await _store.OpenUsageAsync(cancellationToken);
            foreach (var listing in listings)
            {
                var row = await connection.QuerySingleAsync<UsageSumRow>(new CommandDefinition("""
                    SELECT COUNT(*) AS requests, COALESCE(SUM(cost_usd), 0) AS cost_usd FROM access_usage
                    WHERE listing = @listing AND at_ms >= @fromMs AND at_ms < @toMs
                    """, new { listing, fromMs, toMs }, cancellationToken: cancellationToken));
                usage[listing] = row;
            }
        }
        var result = new List<ListingRevenue>();
        foreach (var listing in listings.Order(StringComparer.Ordinal))
        {
            var plans = snapshot.Plans.Values.Where(p => p.Model == listing).OrderBy(static p => p.Name, StringComparer.Ordinal).Select(plan =>
            {
                var fees = snapshot.Subscriptions.Values.Where(s => s.PlanId == plan.Id).Select(s => Fee(s, plan, month)).OfType<SubscriptionFeeLine>().ToList();
                return new PlanRevenue(plan.Id, plan.Name, fees.Count, fees.Sum(static f => f.AmountUsd));
            }).ToList();
            var used = usage.GetValueOrDefault(listing);
            var usageUsd = Money.Cents(used?.CostUsd ?? 0);
            var subscriptionsUsd = Money.Cents(plans.Sum(static p => p.AmountUsd));
            result.Add(new ListingRevenue(listing, used?.Requests ?? 0, usageUsd, plans, subscriptionsUsd, usageUsd + subscriptionsUsd));
        }
        return new PublisherStatement(teamId, snapshot.Teams.GetValueOrDefault(teamId)?.Name, month.ToString(), Statement.Usd, _time.GetUtcNow() >= month.End,
            result, result.Sum(static l => l.TotalUsd));
    }

    /// <summary>
    /// A subscription's fee for the month: the plan's monthly price times the share of the month's UTC days on which it
    /// was billable (from its activation to its cancellation or expiry; a suspension does not stop billing). Null when
    /// it was never billable in the month.
    /// </summary>
    internal static SubscriptionFeeLine? Fee(SubscriptionRow sub, PlanRow? plan, StatementMonth month)
    {
        if (plan is null) return null;
        long? startMs = sub.ActivatedAtMs
            ?? (sub.Status is SubscriptionStatus.Submitted or SubscriptionStatus.Rejected || sub.EndedAtMs is not null ? null : sub.CreatedAtMs);
        if (startMs is null) return null;
        var endMs = sub.EndedAtMs ?? (sub.Status == SubscriptionStatus.Cancelled ? sub.UpdatedAtMs : long.MaxValue);
        if (sub.ExpiresAtMs is { } expires && expires < endMs) endMs = expires;
        var from = Max(DateTimeOffset.FromUnixTimeMilliseconds(startMs.Value), month.Start);
        var to = endMs >= month.End.ToUnixTimeMilliseconds() ? month.End : DateTimeOffset.FromUnixTimeMilliseconds(endMs);
        if (to <= from) return null;
        // Every UTC day the subscription was billable at any time counts whole.
        var firstDay = new DateTimeOffset(from.UtcDateTime.Date, TimeSpan.Zero);
        var days = (int)Math.Ceiling((to - firstDay).TotalDays);
        var amount = plan.PriceUsd * days / month.Days;
        return new SubscriptionFeeLine(sub.Id, sub.AppId, plan.Id, plan.Name, plan.Model, plan.PriceUsd, from, to, days, month.Days, amount);
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    internal static AdjustmentLine ToLine(AdjustmentRow r) =>
        new(r.Id, r.TeamId, r.Month, r.AmountCents / 100m, r.Reason, r.CreatedBy, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAtMs));
}

internal sealed class UsageSumRow
{
    public string Model { get; set; } = "";
    public string? Listing { get; set; }
    public long Requests { get; set; }
    public long PromptTokens { get; set; }
    public long CompletionTokens { get; set; }
    public decimal CostUsd { get; set; }
}

internal sealed class AdjustmentRow
{
    public string Id { get; set; } = "";
    public string TeamId { get; set; } = "";
    public string Month { get; set; } = "";
    public long AmountCents { get; set; }
    public string Reason { get; set; } = "";
    public string CreatedBy { get; set; } = "";
    public long CreatedAtMs { get; set; }
}
