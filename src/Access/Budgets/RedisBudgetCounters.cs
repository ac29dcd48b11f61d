using LlmMarketplace.BuildingBlocks.Distributed;
using StackExchange.Redis;

namespace LlmMarketplace.Access.Budgets;

/// <summary>
/// Budget and quota counters in Redis, shared by every replica. One hash per budget and period holds the spend
/// (<c>usd</c>, <c>tok</c>) and whether the alert fired; a second hash with a short expiry holds the reservations of calls
/// in flight, so a replica that dies mid-call cannot hold a budget's reservations for longer than that expiry. Both
/// share a hash tag, so each script touches one cluster slot. Only seeding creates a counter: a counter Redis lost is
/// re-seeded from the database by the next directory refresh, and meanwhile the replica counts locally.
/// </summary>
internal sealed class RedisBudgetCounters(SharedStateGuard guard)
{
    public const string Use = "budget";

    private static readonly TimeSpan ReservationExpiry = TimeSpan.FromMinutes(5);

    private const string SeedScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        redis.call('HSET', KEYS[1], 'usd', ARGV[1], 'tok', ARGV[2])
        redis.call('PEXPIREAT', KEYS[1], ARGV[3])
        if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'alerted', '1') end
        return 1
        """;

    // -1: no counter (not seeded); 0: exhausted; 1: reserved.
    private const string ReserveScript = """
        local s = redis.call('HMGET', KEYS[1], 'usd', 'tok')
        if not s[1] then return -1 end
        local r = redis.call('HMGET', KEYS[2], 'usd', 'tok')
        local usd = tonumber(s[1]) + tonumber(r[1] or '0')
        local tok = tonumber(s[2]) + tonumber(r[2] or '0')
        local maxUsd = tonumber(ARGV[1])
        local maxTok = tonumber(ARGV[2])
        if (maxUsd >= 0 and usd >= maxUsd) or (maxTok >= 0 and tok >= maxTok) then return 0 end
        redis.call('HINCRBYFLOAT', KEYS[2], 'usd', ARGV[3])
        redis.call('HINCRBY', KEYS[2], 'tok', ARGV[4])
        redis.call('PEXPIRE', KEYS[2], ARGV[5])
        return 1
        """;

    // Releases a reservation and books the actual spend; returns {booked, crossed alert now, usd, tok}.
    private const string SettleScript = """
        if redis.call('EXISTS', KEYS[2]) == 1 then
          local r = redis.call('HMGET', KEYS[2], 'usd', 'tok')
          redis.call('HSET', KEYS[2], 'usd', tostring(math.max(0, tonumber(r[1] or '0') - tonumber(ARGV[1]))),
            'tok', tostring(math.max(0, tonumber(r[2] or '0') - tonumber(ARGV[2]))))
        end
        if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0, '0', '0'} end
        local usd = redis.call('HINCRBYFLOAT', KEYS[1], 'usd', ARGV[3])
        local tok = redis.call('HINCRBY', KEYS[1], 'tok', ARGV[4])
        local alertUsd = tonumber(ARGV[5])
        local alertTok = tonumber(ARGV[6])
        local crossed = 0
        if (alertUsd > 0 and tonumber(usd) >= alertUsd) or (alertTok > 0 and tok >= alertTok) then
          crossed = redis.call('HSETNX', KEYS[1], 'alerted', '1')
        end
        return {1, crossed, tostring(usd), tostring(tok)}
        """;

    /// <summary>Creates the counter of the current period with the spend the database recorded, unless one exists; false when Redis is unreachable.</summary>
    public bool Seed(BudgetLimit limit, DateTimeOffset periodStart, DateTimeOffset periodEnd, decimal usd, long tokens, bool alerted)
    {
        try
        {
            return guard.Run(Use, db =>
            {
                db.ScriptEvaluate(SeedScript, [Key(limit, periodStart)],
                    [Text(usd), tokens, periodEnd.AddDays(7).ToUnixTimeMilliseconds(), alerted ? "1" : "0"]);
                return true;
            }, static () => false);
        }
        catch (SharedStateUnavailableException)
        {
            return false;
        }
    }

    /// <summary>Whether the counter of the period exists (null: Redis unreachable).</summary>
    public bool? Exists(BudgetLimit limit, DateTimeOffset periodStart)
    {
        try
        {
            return guard.Run<bool?>(Use, db => db.KeyExists(Key(limit, periodStart)), static () => null);
        }
        catch (SharedStateUnavailableException)
        {
            return null;
        }
    }

    /// <summary>Reserves against the shared counter: true reserved, false exhausted, null no shared counter (count locally). Throws under fail-closed.</summary>
    public ValueTask<bool?> TryReserveAsync(BudgetLimit limit, DateTimeOffset periodStart, decimal usd, long tokens, Func<bool?> local) =>
        guard.RunAsync(Use, async db =>
        {
            var key = Key(limit, periodStart);
            var result = (long)await db.ScriptEvaluateAsync(ReserveScript, [key, Reservations(key)],
                [limit.LimitUsd is { } maxUsd ? Text(maxUsd) : "-1", limit.LimitTokens ?? -1, Text(usd), tokens, (long)ReservationExpiry.TotalMilliseconds]);
            return result switch { 1 => true, 0 => (bool?)false, _ => local() };
        }, local);

    /// <summary>Releases the reservation and books the spend; null when nothing could be booked in Redis (the caller books locally).</summary>
    public async ValueTask<(bool Crossed, decimal Usd, long Tokens)?> SettleAsync(BudgetLimit limit, DateTimeOffset periodStart, decimal reservedUsd, long reservedTokens, decimal usd, long tokens)
    {
        try
        {
            return await guard.RunAsync<(bool, decimal, long)?>(Use, async db =>
            {
                var key = Key(limit, periodStart);
                var alertUsd = limit.LimitUsd is { } max && max > 0 ? Text(max * (decimal)limit.AlertThreshold) : "-1";
                var alertTokens = limit.LimitTokens is { } maxTokens && maxTokens > 0 ? (maxTokens * limit.AlertThreshold).ToString("R", CultureInfo.InvariantCulture) : "-1";
                var r = (RedisResult[])(await db.ScriptEvaluateAsync(SettleScript, [key, Reservations(key)],
                    [Text(reservedUsd), reservedTokens, Text(usd), tokens, alertUsd, alertTokens]))!;
                if ((long)r[0] == 0) return null;
                return ((long)r[1] == 1, decimal.Parse((string)r[2]!, NumberStyles.Float, CultureInfo.InvariantCulture), long.Parse((string)r[3]!, CultureInfo.InvariantCulture));
            }, static () => null);
        }
        catch (SharedStateUnavailableException)
        {
            return null;
        }
    }

    /// <summary>The shared spend of the period, or null (no counter, or Redis unreachable).</summary>
    public (decimal Usd, long Tokens)? Spent(BudgetLimit limit, DateTimeOffset periodStart)
    {
        try
        {
            return guard.Run<(decimal, long)?>(Use, db =>
            {
                var values = db.HashGet(Key(limit, periodStart), ["usd", "tok"]);
                if (values[0].IsNull) return null;
                return (decimal.Parse((string)values[0]!, NumberStyles.Float, CultureInfo.InvariantCulture), (long)values[1]);
            }, static () => null);
        }
        catch (SharedStateUnavailableException)
        {
            return null;
        }
    }

    private RedisKey Key(BudgetLimit limit, DateTimeOffset periodStart) =>
        guard.Redis.Key("budget:{" + limit.Id + ":" + periodStart.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) + "}");

    private static RedisKey Reservations(RedisKey key) => key.Append(":reserved");

    private static string Text(decimal value) => value.ToString(CultureInfo.InvariantCulture);
}
