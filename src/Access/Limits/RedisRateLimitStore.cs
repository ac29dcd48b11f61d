using System.Globalization;
using LlmMarketplace.BuildingBlocks.Distributed;
using StackExchange.Redis;

namespace LlmMarketplace.Access.Limits;

/// <summary>
/// Token buckets in Redis, shared by every replica: each take, give-back and adjustment is one Lua script that refills
/// the bucket by Redis's own clock and updates it atomically, so N replicas admit what one would. When Redis is
/// unreachable the configured failure mode applies: this replica's in-memory buckets (open) or a refusal (closed).
/// </summary>
internal sealed class RedisRateLimitStore(SharedStateGuard guard, InMemoryRateLimitStore local) : IRateLimitStore
{
    private const string Use = "rate_limit";

    // ARGV: rpm (-1: none), tpm (-1: none), tokens (or delta), op (0 acquire, 1 release, 2 adjust).
    // Returns {allowed, requests, tokens, retry seconds, exceeded}; numbers as strings to keep their fractions.
    private const string Script = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local rpm = tonumber(ARGV[1])
        local tpm = tonumber(ARGV[2])
        local n = tonumber(ARGV[3])
        local op = ARGV[4]
        local s = redis.call('HMGET', KEYS[1], 'r', 'k', 'ts')
        local r, k
        if s[3] then
          r = tonumber(s[1])
          k = tonumber(s[2])
          local el = math.max(0, now - tonumber(s[3])) / 1000
          if rpm >= 0 then r = math.min(rpm, r + el * rpm / 60) end
          if tpm >= 0 then k = math.min(tpm, k + el * tpm / 60) end
        else
          if op ~= '0' then return {1, '0', '0', '0', ''} end
          r = math.max(rpm, 0)
          k = math.max(tpm, 0)
        end
        local allowed = 1
        local exceeded = ''
        local retry = 0
        if op == '0' then
          if rpm >= 0 and r < 1 then
            allowed = 0
            exceeded = 'requests'
            retry = (1 - r) / (math.max(rpm, 1e-9) / 60)
          end
          if tpm >= 0 then
            local need = math.min(n, tpm)
            if k < need then
              allowed = 0
              if exceeded == '' then exceeded = 'tokens' end
              local w = (need - k) / (math.max(tpm, 1e-9) / 60)
              if w > retry then retry = w end
            end
          end
          if allowed == 1 then
            if rpm >= 0 then r = r - 1 end
            if tpm >= 0 then k = k - n end
          end
        elseif op == '1' then
          if rpm >= 0 then r = math.min(rpm, r + 1) end
          if tpm >= 0 then k = math.min(tpm, k + n) end
        else
          if tpm >= 0 then k = math.min(tpm, k - n) end
        end
        local full = 0
        if rpm > 0 then full = math.max(full, (rpm - r) / (rpm / 60)) end
        if tpm > 0 then full = math.max(full, (tpm - k) / (tpm / 60)) end
        redis.call('HSET', KEYS[1], 'r', tostring(r), 'k', tostring(k), 'ts', tostring(now))
        redis.call('PEXPIRE', KEYS[1], math.ceil(full * 1000) + 1000)
        return {allowed, tostring(r), tostring(k), tostring(retry), exceeded}
        """;

    public ValueTask<RateLimitDecision> TryAcquireAsync(string key, RateLimit limit, long tokens) =>
        guard.RunAsync(Use, async db => Decide(await EvaluateAsync(db, key, limit, tokens, "0"), limit), () => local.TryAcquire(key, limit, tokens));

    public ValueTask ReleaseAsync(string key, RateLimit limit, long tokens) =>
        BestEffortAsync(db => EvaluateAsync(db, key, limit, tokens, "1"), () => local.Release(key, limit, tokens));

    public ValueTask AdjustTokensAsync(string key, RateLimit limit, long delta) =>
        limit.Tpm is null || delta == 0
            ? ValueTask.CompletedTask
            : BestEffortAsync(db => EvaluateAsync(db, key, limit, delta, "2"), () => local.AdjustTokens(key, limit, delta));

    /// <summary>Giving back never refuses a call: under fail-closed a give-back that cannot reach Redis is dropped.</summary>
    private async ValueTask BestEffortAsync(Func<IDatabase, Task<RedisResult[]>> shared, Action fallback)
    {
        try
        {
            await guard.RunAsync(Use, async db => { await shared(db); return true; }, () => { fallback(); return true; });
        }
        catch (SharedStateUnavailableException)
        {
            // Nothing to give back to: the bucket lives in Redis and refills on its own.
        }
    }

    private async Task<RedisResult[]> EvaluateAsync(IDatabase db, string key, RateLimit limit, long tokens, string op) =>
        (RedisResult[])(await db.ScriptEvaluateAsync(Script, [guard.Redis.Key("rl:" + key)],
            [limit.Rpm ?? -1, limit.Tpm ?? -1, tokens, op]))!;

    private static RateLimitDecision Decide(RedisResult[] result, RateLimit limit)
    {
        var allowed = (long)result[0] == 1;
        var requests = Number(result[1]);
        var tokens = Number(result[2]);
        var retry = Number(result[3]);
        var exceeded = (string?)result[4];
        var remainingRequests = limit.Rpm is null ? 0 : (long)Math.Max(0, Math.Floor(requests));
        var remainingTokens = limit.Tpm is null ? 0 : (long)Math.Max(0, Math.Floor(tokens));
        var resetRequests = limit.Rpm is { } rpm and > 0 ? Seconds((rpm - requests) / (rpm / 60.0)) : TimeSpan.Zero;
        var resetTokens = limit.Tpm is { } tpm and > 0 ? Seconds((tpm - tokens) / (tpm / 60.0)) : TimeSpan.Zero;
        return new RateLimitDecision(allowed, limit, remainingRequests, remainingTokens, resetRequests, resetTokens, Seconds(retry),
            string.IsNullOrEmpty(exceeded) ? null : exceeded);
    }

    private static double Number(RedisResult value) =>
        double.Parse((string)value!, NumberStyles.Float, CultureInfo.InvariantCulture);

    private static TimeSpan Seconds(double seconds) =>
        double.IsFinite(seconds) && seconds > 0 ? TimeSpan.FromMilliseconds(Math.Ceiling(seconds * 1000)) : TimeSpan.Zero;
}
