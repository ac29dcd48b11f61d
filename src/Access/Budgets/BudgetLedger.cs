using System.Collections.Concurrent;
using LlmMarketplace.Access.Telemetry;
using LlmMarketplace.BuildingBlocks.Hosting;

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

    /// <summary>Raised after a batch of usage records is committed (readers of <see cref="Metering.IUsageFeed"/> wake on it).</summary>
    public WorkSignal UsageCommitted { get; } = new();
}

/// <summary>A limit to reserve against: a budget (USD and/or tokens) or a plan's token quota.</summary>
internal sealed record BudgetLimit(string Id, string Scope, string ScopeId, decimal? LimitUsd, long? LimitTokens, string Period, double AlertThreshold)
{
    /// <summary>For a policy's cap: the policy and its reason, named in refusals.</summary>
    public string? Because { get; init; }
}

/// <summary>What a call reserved, to settle with the actual usage after it.</summary>
internal sealed class BudgetReservation(List<BudgetReservation.Item> items)
{
    /// <summary>One counter's reservation; <paramref name="SharedPeriod"/> is set when it was made in Redis (the period's start).</summary>
    internal readonly record struct Item(BudgetLedger.Counter Counter, BudgetLimit Limit, decimal Usd, long Tokens, DateTimeOffset? SharedPeriod);

    public List<Item> Items { get; } = items;
}

/// <summary>
/// Spend and token counters per budget and period, in memory. A call reserves its estimated cost before it runs and
/// settles the actual cost after, so admitted spend exceeds a budget by at most the calls in flight. With Redis the
/// counters are shared by every replica (<see cref="RedisBudgetCounters"/>); the in-memory ones are the fallback.
/// </summary>
internal sealed class BudgetLedger(TimeProvider time, AccessOptions options, AccessEvents events, AccessMetrics metrics, ILogger<BudgetLedger> logger,
    RedisBudgetCounters? shared = null)
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
        (decimal, long, DateTimeOffset, DateTimeOffset) local;
        lock (counter.Gate)
        {
            Roll(counter, limit, _time.GetUtcNow());
            local = (counter.SpentUsd, counter.SpentTokens, counter.PeriodStart, counter.PeriodEnd);
        }
        if (shared?.Spent(limit, local.Item3) is { } spent)
        {
            return (spent.Usd, spent.Tokens, local.Item3, local.Item4);
        }
        return local;
    }

    /// <summary>Seeds a budget's counter with the spend already recorded in the current period (at start, or when it is created).</summary>
    public async Task SeedAsync(AccessStore store, BudgetLimit limit, string? usageColumn, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var start = BudgetPeriod.Start(limit.Period, now, Zone);
        // The shared counter is (re-)seeded whenever Redis lacks it: a new period, a new budget, or a Redis that lost its data.
        var seedShared = shared is not null && shared.Exists(limit, start) == false;
        if (_counters.ContainsKey(limit.Id) && !seedShared) return;
        var spend = await store.SpendBetweenAsync(usageColumn, limit.ScopeId, start.ToUnixTimeMilliseconds(), long.MaxValue, cancellationToken);
        var counter = new Counter { PeriodStart = start, PeriodEnd = BudgetPeriod.End(limit.Period, now, Zone), SpentUsd = spend.Cost ?? 0, SpentTokens = spend.Tokens ?? 0 };
        counter.Alerted = Crossed(counter, limit);
        if (_counters.TryAdd(limit.Id, counter)) _seeded.TryAdd(limit.Id, 0);
        if (seedShared) shared!.Seed(limit, counter.PeriodStart, counter.PeriodEnd, counter.SpentUsd, counter.SpentTokens, counter.Alerted);
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
        // Local counters complete synchronously; with Redis the hot path uses TryReserveAsync.
        var result = TryReserveAsync(limits, estimatedUsd, estimatedTokens, free).AsTask().GetAwaiter().GetResult();
        exhausted = result.Exhausted;
        resetsAt = result.ResetsAt;
        return result.Reservation;
    }

    /// <summary>
    /// Reserves the estimate against every limit, or nothing; names the first limit that is exhausted. With Redis every
    /// shared counter is asked at once (one round trip); a reservation made while another limit refused is given back.
    /// </summary>
    public async ValueTask<(BudgetReservation? Reservation, BudgetLimit? Exhausted, DateTimeOffset ResetsAt)> TryReserveAsync(
        IReadOnlyList<BudgetLimit> limits, decimal estimatedUsd, long estimatedTokens, bool free)
    {
        var now = _time.GetUtcNow();
        if (shared is null) return await ReserveLocallyAsync(limits, estimatedUsd, estimatedTokens, free, now);
        var count = limits.Count;
        var counters = new Counter[count];
        var periods = new (DateTimeOffset Start, DateTimeOffset End)[count];
        var asked = new Task<bool?>[count];
        for (var i = 0; i < count; i++)
        {
            var limit = limits[i];
            var counter = counters[i] = Get(limit);
            lock (counter.Gate)
            {
                Roll(counter, limit, now);
                periods[i] = (counter.PeriodStart, counter.PeriodEnd);
            }
            // null from the shared counter: not seeded there, or Redis unreachable under fail-open; either way count here.
            asked[i] = shared.TryReserveAsync(free ? limit with { LimitUsd = null } : limit, periods[i].Start, UsdFor(limit, estimatedUsd, free),
                TokensFor(limit, estimatedTokens), static () => null).AsTask();
        }
        var taken = new List<BudgetReservation.Item>(count);
        try
        {
            await Task.WhenAll(asked);
        }
        catch (BuildingBlocks.Distributed.SharedStateUnavailableException)
        {
            for (var i = 0; i < count; i++)
            {
                if (asked[i].IsCompletedSuccessfully && asked[i].Result == true)
                    taken.Add(new BudgetReservation.Item(counters[i], limits[i], UsdFor(limits[i], estimatedUsd, free), TokensFor(limits[i], estimatedTokens), periods[i].Start));
            }
            await SettleAsync(new BudgetReservation(taken), null, 0, 0);
            throw;
        }
        BudgetLimit? exhausted = null;
        var resetsAt = default(DateTimeOffset);
        for (var i = 0; i < count; i++)
        {
            var limit = limits[i];
            var usd = UsdFor(limit, estimatedUsd, free);
            var tokens = TokensFor(limit, estimatedTokens);
            var sharedResult = asked[i].Result;
            if (exhausted is not null)
            {
                // Already refused: only what Redis reserved meanwhile is kept, to be given back.
                if (sharedResult == true) taken.Add(new BudgetReservation.Item(counters[i], limit, usd, tokens, periods[i].Start));
                continue;
            }
            var reserved = sharedResult ?? ReserveLocally(counters[i], limit, now, usd, tokens, free);
            if (reserved)
            {
                taken.Add(new BudgetReservation.Item(counters[i], limit, usd, tokens, sharedResult is null ? null : periods[i].Start));
            }
            else
            {
                exhausted = limit;
                resetsAt = periods[i].End;
            }
        }
        if (exhausted is not null)
        {
            await SettleAsync(new BudgetReservation(taken), null, 0, 0);
            return (null, exhausted, resetsAt);
        }
        return (new BudgetReservation(taken), null, default);
    }

    /// <summary>Without Redis: one counter after the other, each under its lock.</summary>
    private async ValueTask<(BudgetReservation? Reservation, BudgetLimit? Exhausted, DateTimeOffset ResetsAt)> ReserveLocallyAsync(
        IReadOnlyList<BudgetLimit> limits, decimal estimatedUsd, long estimatedTokens, bool free, DateTimeOffset now)
    {
        var taken = new List<BudgetReservation.Item>(limits.Count);
        for (var i = 0; i < limits.Count; i++)
        {
            var limit = limits[i];
            var counter = Get(limit);
            var usd = UsdFor(limit, estimatedUsd, free);
            var tokens = TokensFor(limit, estimatedTokens);
            if (!ReserveLocally(counter, limit, now, usd, tokens, free))
            {
                DateTimeOffset periodEnd;
                lock (counter.Gate) periodEnd = counter.PeriodEnd;
                await SettleAsync(new BudgetReservation(taken), null, 0, 0);
                return (null, limit, periodEnd);
            }
            taken.Add(new BudgetReservation.Item(counter, limit, usd, tokens, null));
        }
        return (new BudgetReservation(taken), null, default);
    }

    private static decimal UsdFor(BudgetLimit limit, decimal estimatedUsd, bool free) => free || limit.LimitUsd is null ? 0m : estimatedUsd;

    private static long TokensFor(BudgetLimit limit, long estimatedTokens) => limit.LimitTokens is null ? 0L : estimatedTokens;

    private bool ReserveLocally(Counter counter, BudgetLimit limit, DateTimeOffset now, decimal usd, long tokens, bool free)
    {
        lock (counter.Gate)
        {
            Roll(counter, limit, now);
            var overUsd = !free && limit.LimitUsd is { } maxUsd && counter.SpentUsd + counter.ReservedUsd >= maxUsd;
            var overTokens = limit.LimitTokens is { } maxTokens && counter.SpentTokens + counter.ReservedTokens >= maxTokens;
            if (overUsd || overTokens) return false;
            counter.ReservedUsd += usd;
            counter.ReservedTokens += tokens;
            return true;
        }
    }

    /// <summary>The synchronous form, for local counters (which complete synchronously).</summary>
    public void Settle(BudgetReservation? reservation, IReadOnlyList<BudgetLimit>? bookOnly, decimal actualUsd, long actualTokens) =>
        SettleAsync(reservation, bookOnly, actualUsd, actualTokens).AsTask().GetAwaiter().GetResult();

    /// <summary>Releases a reservation and books the actual usage (null reservation: book only).</summary>
    public async ValueTask SettleAsync(BudgetReservation? reservation, IReadOnlyList<BudgetLimit>? bookOnly, decimal actualUsd, long actualTokens)
    {
        var now = _time.GetUtcNow();
        if (reservation is { Items: { Count: 1 } single })
        {
            var (counter, limit, usd, tokens, sharedPeriod) = single[0];
            await BookAsync(counter, limit, now, usd, tokens, actualUsd, actualTokens, sharedPeriod);
        }
        else if (reservation is { Items.Count: > 1 } several)
        {
            // Every counter at once: with Redis, one round trip rather than one per budget.
            var booking = new Task[several.Items.Count];
            for (var i = 0; i < booking.Length; i++)
            {
                var (counter, limit, usd, tokens, sharedPeriod) = several.Items[i];
                booking[i] = BookAsync(counter, limit, now, usd, tokens, actualUsd, actualTokens, sharedPeriod).AsTask();
            }
            await Task.WhenAll(booking);
        }
        if (bookOnly is not null)
        {
            foreach (var limit in bookOnly)
            {
                await BookAsync(Get(limit), limit, now, 0, 0, actualUsd, actualTokens, null);
            }
        }
    }

    private async ValueTask BookAsync(Counter counter, BudgetLimit limit, DateTimeOffset now, decimal reservedUsd, long reservedTokens, decimal actualUsd, long actualTokens,
        DateTimeOffset? sharedPeriod)
    {
        BudgetAlert? alert = null;
        if (sharedPeriod is { } period && shared is not null && await shared.SettleAsync(limit, period, reservedUsd, reservedTokens, actualUsd, actualTokens) is { } booked)
        {
            // Booked in Redis; the local counter follows along as the fallback's starting point. The alert fires once across replicas.
            lock (counter.Gate)
            {
                Roll(counter, limit, now);
                counter.SpentUsd += actualUsd;
                counter.SpentTokens += actualTokens;
                if (booked.Crossed)
                {
                    counter.Alerted = true;
                    alert = new BudgetAlert(limit.Id, limit.Scope, limit.ScopeId, limit.Period, period, limit.LimitUsd, booked.Usd,
                        limit.LimitTokens, booked.Tokens, limit.AlertThreshold, now);
                }
            }
            Raise(alert, limit);
            return;
        }
        lock (counter.Gate)
        {
            if (sharedPeriod is null)
            {
                counter.ReservedUsd = Math.Max(0, counter.ReservedUsd - reservedUsd);
                counter.ReservedTokens = Math.Max(0, counter.ReservedTokens - reservedTokens);
            }
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
        Raise(alert, limit);
    }

    private void Raise(BudgetAlert? alert, BudgetLimit limit)
    {
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
