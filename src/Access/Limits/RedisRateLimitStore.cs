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

    // What every script below begins with: the server's clock (ms), a bucket refilled to now (nil, nil when it has none
    // stored), and a bucket written back with an expiry at the time it would be full again.
    private const string Buckets = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local function refill(key, rpm, tpm)
          local s = redis.call('HMGET', key, 'r', 'k', 'ts')
          if not s[3] then return nil, nil end
          local r, k = tonumber(s[1]), tonumber(s[2])
          local el = math.max(0, now - tonumber(s[3])) / 1000
          if rpm >= 0 then r = math.min(rpm, r + el * rpm / 60) end
          if tpm >= 0 then k = math.min(tpm, k + el * tpm / 60) end
          return r, k
        end
        local function store(key, rpm, tpm, r, k)
          local full = 0
          if rpm > 0 then full = math.max(full, (rpm - r) / (rpm / 60)) end
          if tpm > 0 then full = math.max(full, (tpm - k) / (tpm / 60)) end
          redis.call('HSET', key, 'r', tostring(r), 'k', tostring(k), 'ts', tostring(now))
          redis.call('PEXPIRE', key, math.ceil(full * 1000) + 1000)
        end

        """;

    // ARGV: rpm (-1: none), tpm (-1: none), tokens (or delta), op (0 acquire, 1 release, 2 adjust).
    // Returns {allowed, requests, tokens, retry seconds, exceeded}; numbers as strings to keep their fractions.
    private const string Script = Buckets + """
        local rpm = tonumber(ARGV[1])
        local tpm = tonumber(ARGV[2])
        local n = tonumber(ARGV[3])
        local op = ARGV[4]
        local r, k = refill(KEYS[1], rpm, tpm)
        if not r then
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
        store(KEYS[1], rpm, tpm, r, k)
        return {allowed, tostring(r), tostring(k), tostring(retry), exceeded}
        """;

    // Every bucket of a call in one script, all or nothing. KEYS: the buckets; ARGV: tokens, then rpm and tpm per
    // bucket (-1: none). Returns {refused (1-based, 0: none), requests, tokens, retry seconds, exceeded} of the refusing
    // bucket, or of the first one when all gave.
    private const string AcquireAllScript = Buckets + """
        local n = tonumber(ARGV[1])
        local rs, ks = {}, {}
        local refused, exceeded, retry = 0, '', 0
        for i = 1, #KEYS do
          local rpm = tonumber(ARGV[2 * i])
          local tpm = tonumber(ARGV[2 * i + 1])
          local r, k = refill(KEYS[i], rpm, tpm)
          if not r then
            r = math.max(rpm, 0)
            k = math.max(tpm, 0)
          end
          rs[i], ks[i] = r, k
          if refused == 0 then
            local ex, w = '', 0
            if rpm >= 0 and r < 1 then
              ex = 'requests'
              w = (1 - r) / (math.max(rpm, 1e-9) / 60)
            end
            if tpm >= 0 then
              local need = math.min(n, tpm)
              if k < need then
                if ex == '' then ex = 'tokens' end
                local wt = (need - k) / (math.max(tpm, 1e-9) / 60)
                if wt > w then w = wt end
              end
            end
            if ex ~= '' then
              refused, exceeded, retry = i, ex, w
            end
          end
        end
        if refused > 0 then
          return {refused, tostring(rs[refused]), tostring(ks[refused]), tostring(retry), exceeded}
        end
        for i = 1, #KEYS do
          local rpm = tonumber(ARGV[2 * i])
          local tpm = tonumber(ARGV[2 * i + 1])
          local r, k = rs[i], ks[i]
          if rpm >= 0 then r = r - 1 end
          if tpm >= 0 then k = k - n end
          rs[i], ks[i] = r, k
          store(KEYS[i], rpm, tpm, r, k)
        end
        return {0, tostring(rs[1]), tostring(ks[1]), '0', ''}
        """;

    // Every bucket's token reconciliation in one script. KEYS: the buckets; ARGV: delta, then tpm per bucket.
    private const string AdjustAllScript = Buckets + """
        local n = tonumber(ARGV[1])
        for i = 1, #KEYS do
          local tpm = tonumber(ARGV[i + 1])
          local rpm = tonumber(ARGV[#KEYS + i + 1])
          local r, k = refill(KEYS[i], rpm, tpm)
          if r and tpm >= 0 then
            store(KEYS[i], rpm, tpm, r, math.min(tpm, k - n))
          end
        end
        return 1
        """;

    public ValueTask<RateLimitDecision> TryAcquireAsync(string key, RateLimit limit, long tokens) =>
        guard.RunAsync(Use, async db => Decide(await EvaluateAsync(db, key, limit, tokens, "0"), limit), () => local.TryAcquire(key, limit, tokens));

    public ValueTask ReleaseAsync(string key, RateLimit limit, long tokens) =>
        BestEffortAsync(db => EvaluateAsync(db, key, limit, tokens, "1"), () => local.Release(key, limit, tokens));

    public ValueTask AdjustTokensAsync(string key, RateLimit limit, long delta) =>
        limit.Tpm is null || delta == 0
            ? ValueTask.CompletedTask
            : BestEffortAsync(db => EvaluateAsync(db, key, limit, delta, "2"), () => local.AdjustTokens(key, limit, delta));

    /// <summary>One round trip for every bucket of the call (a cluster whose buckets live in several slots takes them one by one).</summary>
    public ValueTask<BucketsDecision> TryAcquireAllAsync(IReadOnlyList<(string Key, RateLimit Limit)> buckets, long tokens)
    {
        if (buckets.Count == 1)
        {
            return AcquireOneAsync(buckets[0].Key, buckets[0].Limit, tokens);
        }
        var keys = Keys(buckets);
        if (!OneScript(keys)) return RateLimitBuckets.AcquireOneByOneAsync(this, buckets, tokens);
        var args = new RedisValue[1 + (2 * buckets.Count)];
        args[0] = tokens;
        for (var i = 0; i < buckets.Count; i++)
        {
            args[1 + (2 * i)] = buckets[i].Limit.Rpm ?? -1;
            args[2 + (2 * i)] = buckets[i].Limit.Tpm ?? -1;
        }
        return guard.RunAsync(Use, async db =>
        {
            var result = (RedisResult[])(await db.ScriptEvaluateAsync(AcquireAllScript, keys, args))!;
            var refused = (int)(long)result[0] - 1;
            return new BucketsDecision(refused, Decide(result, buckets[Math.Max(refused, 0)].Limit, allowed: refused < 0));
        }, () => local.TryAcquireAll(buckets, tokens));
    }

    /// <summary>Reconciles every bucket with a token limit in one round trip.</summary>
    public ValueTask AdjustAllAsync(IReadOnlyList<(string Key, RateLimit Limit)> buckets, long delta)
    {
        if (delta == 0) return ValueTask.CompletedTask;
        var limited = 0;
        for (var i = 0; i < buckets.Count; i++) if (buckets[i].Limit.Tpm is not null) limited++;
        if (limited == 0) return ValueTask.CompletedTask;
        if (limited == 1)
        {
            for (var i = 0; ; i++) if (buckets[i].Limit.Tpm is not null) return AdjustTokensAsync(buckets[i].Key, buckets[i].Limit, delta);
        }
        var keys = Keys(buckets);
        if (!OneScript(keys)) return RateLimitBuckets.AdjustOneByOneAsync(this, buckets, delta);
        var args = new RedisValue[1 + (2 * buckets.Count)];
        args[0] = delta;
        for (var i = 0; i < buckets.Count; i++)
        {
            args[1 + i] = buckets[i].Limit.Tpm ?? -1;
            args[1 + buckets.Count + i] = buckets[i].Limit.Rpm ?? -1;
        }
        return BestEffortAsync(db => db.ScriptEvaluateAsync(AdjustAllScript, keys, args), () =>
        {
            for (var i = 0; i < buckets.Count; i++) local.AdjustTokens(buckets[i].Key, buckets[i].Limit, delta);
        });
    }

    private ValueTask<BucketsDecision> AcquireOneAsync(string key, RateLimit limit, long tokens) =>
        guard.RunAsync(Use, async db =>
        {
            var decision = Decide(await EvaluateAsync(db, key, limit, tokens, "0"), limit);
            return new BucketsDecision(decision.Allowed ? -1 : 0, decision);
        }, () =>
        {
            var decision = local.TryAcquire(key, limit, tokens);
            return new BucketsDecision(decision.Allowed ? -1 : 0, decision);
        });

    private RedisKey[] Keys(IReadOnlyList<(string Key, RateLimit Limit)> buckets)
    {
        var keys = new RedisKey[buckets.Count];
        for (var i = 0; i < keys.Length; i++) keys[i] = guard.Redis.Key("rl:" + buckets[i].Key);
        return keys;
    }

    /// <summary>Whether one script may touch all these keys: always on one Redis, on a cluster only when they share a slot.</summary>
    private bool OneScript(RedisKey[] keys)
    {
        if (!guard.Redis.IsConnected) return true; // the guard falls back (or refuses) before anything is sent
        if (!guard.Redis.IsCluster) return true;
        var slot = ClusterSlot.Of(keys[0]);
        for (var i = 1; i < keys.Length; i++) if (ClusterSlot.Of(keys[i]) != slot) return false;
        return true;
    }

    /// <summary>Giving back never refuses a call: under fail-closed a give-back that cannot reach Redis is dropped.</summary>
    private async ValueTask BestEffortAsync<T>(Func<IDatabase, Task<T>> shared, Action fallback)
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

    private static RateLimitDecision Decide(RedisResult[] result, RateLimit limit) => Decide(result, limit, (long)result[0] == 1);

    private static RateLimitDecision Decide(RedisResult[] result, RateLimit limit, bool allowed)
    {
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
