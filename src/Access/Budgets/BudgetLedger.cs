using System.Collections.Concurrent;
using LlmMarketplace.Access.Storage;
using LlmMarketplace.Access.Telemetry;
using Microsoft.Extensions.Logging;

namespace LlmMarketplace.Access.Budgets;

/// <summary>A budget's threshold was crossed in its current period.</summary>
public sealed record BudgetAlert(
    string BudgetId,
    string Scope,
    string ScopeId,
    string Period,
    DateTimeOffset PeriodStart,
    decimal? LimitUsd,
    decimal SpentUsd,
    long? LimitTokens,
    long SpentTokens,
    double Threshold,
    DateTimeOffset At);

/// <summary>In-process events of the Access module other modules subscribe to (alerts, insights).</summary>
public sealed class AccessEvents
{
    /// <summary>Raised once per budget and period when spend crosses the budget's alert threshold.</summary>
    public event Action<BudgetAlert>? BudgetAlert;

    internal void Raise(BudgetAlert alert) => BudgetAlert?.Invoke(alert);
}

/// <summary>A limit to reserve against: a budget (USD and/or tokens) or a plan's token quota.</summary>
internal sealed record BudgetLimit(string Id, string Scope, string ScopeId, decimal? LimitUsd, long? LimitTokens, string Period, double AlertThreshold)
{
    /// <summary>For a policy's cap: the policy and its reason, named in refusals.</summary>
    public string? Because { get; init; }
}

/// <summary>What a call reserved, to settle with the actual usage after it.</summary>
internal sealed class BudgetReservation(List<(BudgetLedger.Counter Counter, BudgetLimit Limit, decimal Usd, long Tokens)> items)
{
    public List<(BudgetLedger.Counter Counter, BudgetLimit Limit, decimal Usd, long Tokens)> Items { get; } = items;
}

/// <summary>
/// Spend and token counters per budget and period, in memory. A call reserves its estimated cost before it runs and
/// settles the actual cost after, so admitted spend exceeds a budget by at most the calls in flight.
/// </summary>
internal sealed class BudgetLedger(TimeProvider time, AccessOptions options, AccessEvents events, AccessMetrics metrics, ILogger<BudgetLedger> logger)
{
    private readonly TimeProvider _time = time;

    private readonly ConcurrentDictionary<string, Counter> _counters = new(StringComparer.Ordinal);

    private readonly ConcurrentDictionary<string, byte> _seeded = new(StringComparer.Ordinal);

    public TimeZoneInfo Zone { get; } = TimeZoneInfo.FindSystemTimeZoneById(options.TimeZone);

    internal sealed class Counter
    {
        public readonly Lock Gate = new();
        public DateTimeOffset PeriodStart;
        public DateTimeOffset PeriodEnd;
        public decimal SpentUsd;
        public long SpentTokens;
        public decimal ReservedUsd;
        public long ReservedTokens;
        public bool Alerted;
    }

    /// <summary>Current spend of a budget in its current period.</summary>
    public (decimal Usd, long Tokens, DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd) Spent(BudgetLimit limit)
    {
        var counter = Get(limit);
        lock (counter.Gate)
        {
            Roll(counter, limit, _time.GetUtcNow());
            return (counter.SpentUsd, counter.SpentTokens, counter.PeriodStart, counter.PeriodEnd);
        }
    }

    /// <summary>Seeds a budget's counter with the spend already recorded in the current period (at start, or when it is created).</summary>
    public async Task SeedAsync(AccessStore store, BudgetLimit limit, string? usageColumn, CancellationToken cancellationToken)
    {
        if (_counters.ContainsKey(limit.Id)) return;
        var now = _time.GetUtcNow();
        var start = BudgetPeriod.Start(limit.Period, now, Zone);
        var spend = await store.SpendBetweenAsync(usageColumn, limit.ScopeId, start.ToUnixTimeMilliseconds(), long.MaxValue, cancellationToken);
        var counter = new Counter { PeriodStart = start, PeriodEnd = BudgetPeriod.End(limit.Period, now, Zone), SpentUsd = spend.Cost ?? 0, SpentTokens = spend.Tokens ?? 0 };
        counter.Alerted = Crossed(counter, limit);
        if (_counters.TryAdd(limit.Id, counter)) _seeded.TryAdd(limit.Id, 0);
    }

    /// <summary>
    /// For a budget that appears at run time (a policy's cap): starts counting it in memory now and adds, in the
    /// background, the spend recorded in its period before now. Calls admitted while that history is read are judged
    /// without it. <paramref name="usageColumn"/> null means every call counts.
    /// </summary>
    public void SeedInBackground(AccessStore store, BudgetLimit limit, string? usageColumn)
    {
        if (_counters.ContainsKey(limit.Id)) return;
        var counter = Get(limit);
        if (!_seeded.TryAdd(limit.Id, 0)) return;
        DateTimeOffset start;
        lock (counter.Gate) start = counter.PeriodStart;
        var cutoff = _time.GetUtcNow();
        _ = Task.Run(async () =>
        {
            try
            {
                var spend = await store.SpendBetweenAsync(usageColumn, limit.ScopeId, start.ToUnixTimeMilliseconds(), cutoff.ToUnixTimeMilliseconds(), CancellationToken.None);
                BudgetAlert? alert = null;
                lock (counter.Gate)
                {
                    if (counter.PeriodStart != start) return;
                    counter.SpentUsd += spend.Cost ?? 0;
                    counter.SpentTokens += spend.Tokens ?? 0;
                    if (!counter.Alerted && Crossed(counter, limit))
                    {
                        counter.Alerted = true;
                        alert = new BudgetAlert(limit.Id, limit.Scope, limit.ScopeId, limit.Period, counter.PeriodStart, limit.LimitUsd, counter.SpentUsd,
                            limit.LimitTokens, counter.SpentTokens, limit.AlertThreshold, _time.GetUtcNow());
                    }
                }
                if (alert is not null) events.Raise(alert);
            }
            catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or TimeoutException)
            {
                _seeded.TryRemove(limit.Id, out _);
                _counters.TryRemove(limit.Id, out _);
                Log.BudgetSeedFailed(logger, ex, limit.Id);
            }
        });
    }

    /// <summary>Reserves the estimate against every limit, or nothing; returns the first limit that is exhausted.</summary>
    public BudgetReservation? TryReserve(IReadOnlyList<BudgetLimit> limits, decimal estimatedUsd, long estimatedTokens, bool free, out BudgetLimit? exhausted, out DateTimeOffset resetsAt)
    {
        exhausted = null;
        resetsAt = default;
        var now = _time.GetUtcNow();
        var taken = new List<(Counter, BudgetLimit, decimal, long)>(limits.Count);
        foreach (var limit in limits)
        {
            var counter = Get(limit);
            var usd = free || limit.LimitUsd is null ? 0m : estimatedUsd;
            var tokens = limit.LimitTokens is null ? 0L : estimatedTokens;
            lock (counter.Gate)
            {
                Roll(counter, limit, now);
                var overUsd = !free && limit.LimitUsd is { } maxUsd && counter.SpentUsd + counter.ReservedUsd >= maxUsd;
                var overTokens = limit.LimitTokens is { } maxTokens && counter.SpentTokens + counter.ReservedTokens >= maxTokens;
                if (overUsd || overTokens)
                {
                    exhausted = limit;
                    resetsAt = counter.PeriodEnd;
                }
                else
                {
                    counter.ReservedUsd += usd;
                    counter.ReservedTokens += tokens;
                    taken.Add((counter, limit, usd, tokens));
                }
            }
            if (exhausted is not null)
            {
                Settle(new BudgetReservation(taken), null, 0, 0);
                return null;
            }
        }
        return new BudgetReservation(taken);
    }

    /// <summary>Releases a reservation and books the actual usage (null reservation: book only).</summary>
    public void Settle(BudgetReservation? reservation, IReadOnlyList<BudgetLimit>? bookOnly, decimal actualUsd, long actualTokens)
    {
        var now = _time.GetUtcNow();
        if (reservation is not null)
        {
            foreach (var (counter, limit, usd, tokens) in reservation.Items)
            {
                Book(counter, limit, now, usd, tokens, actualUsd, actualTokens);
            }
        }
        if (bookOnly is not null)
        {
            foreach (var limit in bookOnly)
            {
                Book(Get(limit), limit, now, 0, 0, actualUsd, actualTokens);
            }
        }
    }

    private void Book(Counter counter, BudgetLimit limit, DateTimeOffset now, decimal reservedUsd, long reservedTokens, decimal actualUsd, long actualTokens)
    {
        BudgetAlert? alert = null;
        lock (counter.Gate)
        {
            counter.ReservedUsd = Math.Max(0, counter.ReservedUsd - reservedUsd);
            counter.ReservedTokens = Math.Max(0, counter.ReservedTokens - reservedTokens);
            Roll(counter, limit, now);
            counter.SpentUsd += actualUsd;
            counter.SpentTokens += actualTokens;
            if (!counter.Alerted && Crossed(counter, limit))
            {
                counter.Alerted = true;
                alert = new BudgetAlert(limit.Id, limit.Scope, limit.ScopeId, limit.Period, counter.PeriodStart, limit.LimitUsd, counter.SpentUsd,
                    limit.LimitTokens, counter.SpentTokens, limit.AlertThreshold, now);
            }
        }
        if (alert is not null)
        {
            metrics.Alert(limit.Scope);
            Log.BudgetAlert(logger, limit.Id, limit.Scope, limit.ScopeId, limit.AlertThreshold * 100, limit.Period);
            events.Raise(alert);
        }
    }

    private static bool Crossed(Counter counter, BudgetLimit limit) =>
        (limit.LimitUsd is { } usd && usd > 0 && counter.SpentUsd >= usd * (decimal)limit.AlertThreshold)
        || (limit.LimitTokens is { } tokens && tokens > 0 && counter.SpentTokens >= tokens * limit.AlertThreshold);

    private Counter Get(BudgetLimit limit) => _counters.GetOrAdd(limit.Id, static (_, s) =>
    {
        var now = s.self._time.GetUtcNow();
        return new Counter
        {
            PeriodStart = BudgetPeriod.Start(s.limit.Period, now, s.self.Zone),
            PeriodEnd = BudgetPeriod.End(s.limit.Period, now, s.self.Zone),
        };
    }, (self: this, limit));

    private void Roll(Counter counter, BudgetLimit limit, DateTimeOffset now)
    {
        if (now < counter.PeriodEnd && now >= counter.PeriodStart) return;
        counter.PeriodStart = BudgetPeriod.Start(limit.Period, now, Zone);
        counter.PeriodEnd = BudgetPeriod.End(limit.Period, now, Zone);
        counter.SpentUsd = 0;
        counter.SpentTokens = 0;
        counter.Alerted = false;
    }
}
