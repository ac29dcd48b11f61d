using System.Globalization;
using LlmMarketplace.Access.Budgets;
using LlmMarketplace.Access.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace LlmMarketplace.Access.Tests.Budgets;

/// <summary>Budget periods on a driven clock, alerts, and the in-flight bound under contention.</summary>
public sealed class BudgetLedgerTests
{
    private static (BudgetLedger Ledger, FakeTimeProvider Time, List<BudgetAlert> Alerts) Create(string start, string zone = "UTC")
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse(start, CultureInfo.InvariantCulture));
        var events = new AccessEvents();
        var alerts = new List<BudgetAlert>();
        events.BudgetAlert += a => { lock (alerts) alerts.Add(a); };
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var ledger = new BudgetLedger(time, new AccessOptions { TimeZone = zone }, events, new AccessMetrics(meters), NullLogger<BudgetLedger>.Instance);
        return (ledger, time, alerts);
    }

    private static BudgetLimit Usd(decimal limit, string period) => new("b-" + Guid.NewGuid().ToString("N"), "key", "k", limit, null, period, 0.8);

    [Fact]
    public void A_daily_budget_resets_at_local_midnight_in_the_configured_zone_across_a_DST_change()
    {
        // 23:30 in Paris (UTC+1) on the eve of the spring DST change.
        var (ledger, time, _) = Create("2026-03-28T22:30:00Z", "Europe/Paris");
        var budget = Usd(1m, BudgetPeriod.Daily);
        var r = ledger.TryReserve([budget], 0.1m, 0, false, out _, out _);
        ledger.Settle(r, null, 1m, 0);
        Assert.Null(ledger.TryReserve([budget], 0.1m, 0, false, out var exhausted, out var resetsAt));
        Assert.Same(budget, exhausted);
        Assert.Equal(DateTimeOffset.Parse("2026-03-28T23:00:00Z", CultureInfo.InvariantCulture), resetsAt);

        time.Advance(TimeSpan.FromMinutes(29));
        Assert.Null(ledger.TryReserve([budget], 0.1m, 0, false, out _, out _));
        time.Advance(TimeSpan.FromMinutes(1));
        var next = ledger.TryReserve([budget], 0.1m, 0, false, out _, out _);
        Assert.NotNull(next);
        ledger.Settle(next, null, 1m, 0);
        // The next day is 23 hours long: it ends at midnight CEST (UTC+2).
        Assert.Null(ledger.TryReserve([budget], 0.1m, 0, false, out _, out resetsAt));
        Assert.Equal(DateTimeOffset.Parse("2026-03-29T22:00:00Z", CultureInfo.InvariantCulture), resetsAt);
    }

    [Fact]
    public void Weekly_budgets_start_on_Monday_and_monthly_ones_on_the_first()
    {
        var zone = TimeZoneInfo.Utc;
        var wednesday = DateTimeOffset.Parse("2026-04-15T12:00:00Z", CultureInfo.InvariantCulture);
        Assert.Equal(DateTimeOffset.Parse("2026-04-13T00:00:00Z", CultureInfo.InvariantCulture), BudgetPeriod.Start(BudgetPeriod.Weekly, wednesday, zone));
        Assert.Equal(DateTimeOffset.Parse("2026-04-20T00:00:00Z", CultureInfo.InvariantCulture), BudgetPeriod.End(BudgetPeriod.Weekly, wednesday, zone));
        Assert.Equal(DateTimeOffset.Parse("2026-04-01T00:00:00Z", CultureInfo.InvariantCulture), BudgetPeriod.Start(BudgetPeriod.Monthly, wednesday, zone));
        Assert.Equal(DateTimeOffset.Parse("2026-05-01T00:00:00Z", CultureInfo.InvariantCulture), BudgetPeriod.End(BudgetPeriod.Monthly, wednesday, zone));

        var (ledger, time, _) = Create("2026-01-31T23:59:00Z");
        var monthly = new BudgetLimit("m", "team", "t", null, 100, BudgetPeriod.Monthly, 0.8);
        ledger.Settle(ledger.TryReserve([monthly], 0, 10, false, out _, out _), null, 0, 100);
        Assert.Null(ledger.TryReserve([monthly], 0, 10, false, out _, out _));
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.NotNull(ledger.TryReserve([monthly], 0, 10, false, out _, out _));
    }

    [Fact]
    public void The_alert_fires_once_per_period_when_spend_crosses_the_threshold()
    {
        var (ledger, time, alerts) = Create("2026-05-10T08:00:00Z");
        var budget = Usd(10m, BudgetPeriod.Daily);
        ledger.Settle(ledger.TryReserve([budget], 0, 0, false, out _, out _), null, 7.9m, 0);
        Assert.Empty(alerts);
        ledger.Settle(ledger.TryReserve([budget], 0, 0, false, out _, out _), null, 0.1m, 0);
        var alert = Assert.Single(alerts);
        Assert.Equal(budget.Id, alert.BudgetId);
        Assert.Equal(8m, alert.SpentUsd);
        ledger.Settle(ledger.TryReserve([budget], 0, 0, false, out _, out _), null, 1m, 0);
        Assert.Single(alerts);
        time.Advance(TimeSpan.FromDays(1));
        ledger.Settle(ledger.TryReserve([budget], 0, 0, false, out _, out _), null, 9m, 0);
        Assert.Equal(2, alerts.Count);
    }

    [Fact]
    public void A_free_call_is_never_refused_by_a_USD_budget()
    {
        var (ledger, _, _) = Create("2026-05-10T08:00:00Z");
        var budget = Usd(0m, BudgetPeriod.Monthly);
        Assert.Null(ledger.TryReserve([budget], 0.01m, 0, free: false, out _, out _));
        Assert.NotNull(ledger.TryReserve([budget], 0m, 0, free: true, out _, out _));
    }

    [Fact]
    public async Task Spend_never_exceeds_the_budget_by_more_than_the_calls_in_flight()
    {
        var (ledger, _, _) = Create("2026-05-10T08:00:00Z");
        var budget = Usd(1m, BudgetPeriod.Monthly);
        const int workers = 8;
        const decimal actual = 0.07m;
        var spent = 0m;
        var gate = new Lock();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
        {
            while (true)
            {
                // The estimate (prompt only) is below the actual cost, as it is for real calls.
                var reservation = ledger.TryReserve([budget], 0.01m, 0, false, out _, out _);
                if (reservation is null) return;
                await Task.Yield();
                ledger.Settle(reservation, null, actual, 0);
                lock (gate) spent += actual;
            }
        })));
        Assert.True(spent >= 1m, $"spent {spent}");
        Assert.True(spent <= 1m + (workers * actual), $"spent {spent} exceeds the budget by more than {workers} calls in flight");
        Assert.Equal(spent, ledger.Spent(budget).Usd);
    }
}
