using System.Collections.Concurrent;

namespace LlmMarketplace.Access.Limits;

/// <summary>Requests and tokens per minute; null means unlimited.</summary>
public readonly record struct RateLimit(long? Rpm, long? Tpm)
{
    public bool IsUnlimited => Rpm is null && Tpm is null;
}

/// <summary>The state of one bucket after an attempt to take from it.</summary>
public readonly record struct RateLimitDecision(
    bool Allowed,
    RateLimit Limit,
    long RemainingRequests,
    long RemainingTokens,
    TimeSpan ResetRequests,
    TimeSpan ResetTokens,
    TimeSpan RetryAfter,
    string? Exceeded);

/// <summary>
/// What taking from several buckets at once gave: <see cref="Refused"/> is the index of the first bucket that refused
/// (nothing was taken from any), or -1 when every bucket gave; <see cref="Decision"/> is that bucket's decision, or the
/// first bucket's when all gave (its state is what the rate-limit headers show).
/// </summary>
public readonly record struct BucketsDecision(int Refused, RateLimitDecision Decision)
{
    public bool Allowed => Refused < 0;
}

/// <summary>
/// Token buckets (requests and tokens per minute) keyed by scope (<c>key:ID</c>, <c>app:ID</c>, ...).
/// The embedded implementation is in memory; a distributed one (Redis) replaces it to hold limits across replicas.
/// </summary>
public interface IRateLimitStore
{
    /// <summary>Takes one request and <paramref name="tokens"/> tokens from both buckets of <paramref name="key"/>, or nothing.</summary>
    ValueTask<RateLimitDecision> TryAcquireAsync(string key, RateLimit limit, long tokens);

    /// <summary>Gives back what <see cref="TryAcquireAsync"/> took (a later bucket refused the call).</summary>
    ValueTask ReleaseAsync(string key, RateLimit limit, long tokens);

    /// <summary>Reconciles the token bucket with the actual usage: positive takes more, negative gives back.</summary>
    ValueTask AdjustTokensAsync(string key, RateLimit limit, long delta);

    /// <summary>
    /// Takes one request and <paramref name="tokens"/> tokens from every bucket, or from none. The default takes one
    /// bucket after the other and gives back on a refusal; a shared store does it in one round trip.
    /// </summary>
    ValueTask<BucketsDecision> TryAcquireAllAsync(IReadOnlyList<(string Key, RateLimit Limit)> buckets, long tokens) =>
        RateLimitBuckets.AcquireOneByOneAsync(this, buckets, tokens);

    /// <summary>Reconciles every bucket's tokens with the actual usage (see <see cref="AdjustTokensAsync"/>).</summary>
    ValueTask AdjustAllAsync(IReadOnlyList<(string Key, RateLimit Limit)> buckets, long delta) =>
        RateLimitBuckets.AdjustOneByOneAsync(this, buckets, delta);
}

/// <summary>Several buckets through the one-bucket operations of a store.</summary>
internal static class RateLimitBuckets
{
    public static async ValueTask<BucketsDecision> AcquireOneByOneAsync(IRateLimitStore store, IReadOnlyList<(string Key, RateLimit Limit)> buckets, long tokens)
    {
        RateLimitDecision first = default;
        for (var i = 0; i < buckets.Count; i++)
        {
            RateLimitDecision decision;
            try
            {
                decision = await store.TryAcquireAsync(buckets[i].Key, buckets[i].Limit, tokens);
            }
            catch (BuildingBlocks.Distributed.SharedStateUnavailableException)
            {
                for (var j = 0; j < i; j++) await store.ReleaseAsync(buckets[j].Key, buckets[j].Limit, tokens);
                throw;
            }
            if (!decision.Allowed)
            {
                for (var j = 0; j < i; j++) await store.ReleaseAsync(buckets[j].Key, buckets[j].Limit, tokens);
                return new BucketsDecision(i, decision);
            }
            if (i == 0) first = decision;
        }
        return new BucketsDecision(-1, first);
    }

    public static async ValueTask AdjustOneByOneAsync(IRateLimitStore store, IReadOnlyList<(string Key, RateLimit Limit)> buckets, long delta)
    {
        for (var i = 0; i < buckets.Count; i++) await store.AdjustTokensAsync(buckets[i].Key, buckets[i].Limit, delta);
    }
}

/// <summary>In-process token buckets refilled continuously at limit/60 per second.</summary>
internal sealed class InMemoryRateLimitStore(TimeProvider time) : IRateLimitStore
{
    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);

    public ValueTask<RateLimitDecision> TryAcquireAsync(string key, RateLimit limit, long tokens) => ValueTask.FromResult(TryAcquire(key, limit, tokens));

    public ValueTask<BucketsDecision> TryAcquireAllAsync(IReadOnlyList<(string Key, RateLimit Limit)> buckets, long tokens) =>
        ValueTask.FromResult(TryAcquireAll(buckets, tokens));

    public ValueTask AdjustAllAsync(IReadOnlyList<(string Key, RateLimit Limit)> buckets, long delta)
    {
        for (var i = 0; i < buckets.Count; i++) AdjustTokens(buckets[i].Key, buckets[i].Limit, delta);
        return ValueTask.CompletedTask;
    }

    public ValueTask ReleaseAsync(string key, RateLimit limit, long tokens)
    {
        Release(key, limit, tokens);
        return ValueTask.CompletedTask;
    }

    public ValueTask AdjustTokensAsync(string key, RateLimit limit, long delta)
    {
        AdjustTokens(key, limit, delta);
        return ValueTask.CompletedTask;
    }

    private sealed class Bucket
    {
        public readonly Lock Gate = new();
        public double Requests = double.NaN;
        public double Tokens = double.NaN;
        public long Stamp;
    }

    public RateLimitDecision TryAcquire(string key, RateLimit limit, long tokens)
    {
        var bucket = _buckets.GetOrAdd(key, static _ => new Bucket());
        lock (bucket.Gate)
        {
            Refill(bucket, limit);
            string? exceeded = null;
            var retry = TimeSpan.Zero;
            if (limit.Rpm is { } rpm && bucket.Requests < 1)
            {
                exceeded = "requests";
                retry = Seconds((1 - bucket.Requests) / (rpm / 60.0));
            }
            if (limit.Tpm is { } tpm)
            {
                // A request larger than the whole bucket passes only when the bucket is full (and drives it into debt).
                var need = Math.Min(tokens, tpm);
                if (bucket.Tokens < need)
                {
                    exceeded ??= "tokens";
                    var wait = Seconds((need - bucket.Tokens) / (tpm / 60.0));
                    if (wait > retry) retry = wait;
                }
            }
            if (exceeded is null)
            {
                if (limit.Rpm is not null) bucket.Requests -= 1;
                if (limit.Tpm is not null) bucket.Tokens -= tokens;
            }
            return Decision(bucket, limit, exceeded is null, retry, exceeded);
        }
    }

    /// <summary>Takes from every bucket or from none (see <see cref="IRateLimitStore.TryAcquireAllAsync"/>).</summary>
    public BucketsDecision TryAcquireAll(IReadOnlyList<(string Key, RateLimit Limit)> buckets, long tokens)
    {
        RateLimitDecision first = default;
        for (var i = 0; i < buckets.Count; i++)
        {
            var decision = TryAcquire(buckets[i].Key, buckets[i].Limit, tokens);
            if (!decision.Allowed)
            {
                for (var j = 0; j < i; j++) Release(buckets[j].Key, buckets[j].Limit, tokens);
                return new BucketsDecision(i, decision);
            }
            if (i == 0) first = decision;
        }
        return new BucketsDecision(-1, first);
    }

    public void Release(string key, RateLimit limit, long tokens)
    {
        if (!_buckets.TryGetValue(key, out var bucket)) return;
        lock (bucket.Gate)
        {
            Refill(bucket, limit);
            if (limit.Rpm is { } rpm) bucket.Requests = Math.Min(rpm, bucket.Requests + 1);
            if (limit.Tpm is { } tpm) bucket.Tokens = Math.Min(tpm, bucket.Tokens + tokens);
        }
    }

    public void AdjustTokens(string key, RateLimit limit, long delta)
    {
        if (limit.Tpm is not { } tpm || delta == 0 || !_buckets.TryGetValue(key, out var bucket)) return;
        lock (bucket.Gate)
        {
            Refill(bucket, limit);
            bucket.Tokens = Math.Min(tpm, bucket.Tokens - delta);
        }
    }

    private void Refill(Bucket bucket, RateLimit limit)
    {
        var now = time.GetTimestamp();
        if (double.IsNaN(bucket.Requests))
        {
            bucket.Requests = limit.Rpm ?? 0;
            bucket.Tokens = limit.Tpm ?? 0;
            bucket.Stamp = now;
            return;
        }
        var seconds = time.GetElapsedTime(bucket.Stamp, now).TotalSeconds;
        bucket.Stamp = now;
        if (limit.Rpm is { } rpm) bucket.Requests = Math.Min(rpm, bucket.Requests + (seconds * rpm / 60.0));
        if (limit.Tpm is { } tpm) bucket.Tokens = Math.Min(tpm, bucket.Tokens + (seconds * tpm / 60.0));
    }

    private static RateLimitDecision Decision(Bucket bucket, RateLimit limit, bool allowed, TimeSpan retry, string? exceeded)
    {
        var remainingRequests = limit.Rpm is null ? 0 : (long)Math.Max(0, Math.Floor(bucket.Requests));
        var remainingTokens = limit.Tpm is null ? 0 : (long)Math.Max(0, Math.Floor(bucket.Tokens));
        var resetRequests = limit.Rpm is { } rpm ? Seconds((rpm - bucket.Requests) / (rpm / 60.0)) : TimeSpan.Zero;
        var resetTokens = limit.Tpm is { } tpm ? Seconds((tpm - bucket.Tokens) / (tpm / 60.0)) : TimeSpan.Zero;
        return new RateLimitDecision(allowed, limit, remainingRequests, remainingTokens, resetRequests, resetTokens, retry, exceeded);
    }

    private static TimeSpan Seconds(double seconds) =>
        double.IsFinite(seconds) && seconds > 0 ? TimeSpan.FromMilliseconds(Math.Ceiling(seconds * 1000)) : TimeSpan.Zero;
}

/// <summary>OpenAI's duration format for rate-limit headers: <c>20ms</c>, <c>1s</c>, <c>6.5s</c>, <c>6m0s</c>, <c>1h2m3s</c>.</summary>
public static class RateLimitDuration
{
    public static string Format(TimeSpan value)
    {
        if (value <= TimeSpan.Zero) return "0s";
        if (value < TimeSpan.FromSeconds(1)) return ((long)Math.Ceiling(value.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms";
        if (value < TimeSpan.FromMinutes(1)) return Math.Round(value.TotalSeconds, 3).ToString("0.###", CultureInfo.InvariantCulture) + "s";
        var seconds = (long)Math.Ceiling(value.TotalSeconds);
        var h = seconds / 3600;
        var m = seconds % 3600 / 60;
        var s = seconds % 60;
        return h > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{h}h{m}m{s}s")
            : string.Create(CultureInfo.InvariantCulture, $"{m}m{s}s");
    }
}
