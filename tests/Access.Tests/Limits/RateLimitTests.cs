using LlmMarketplace.Access.Limits;
using Microsoft.Extensions.Time.Testing;

namespace LlmMarketplace.Access.Tests.Limits;

/// <summary>Token buckets: OpenAI's headers, 429 with retry-after, concurrency within the bucket, refill over time.</summary>
public sealed class RateLimitTests() : AccessHostTests(new Usage(10, 5))
{
    [Fact]
    public async Task Responses_carry_OpenAI_rate_limit_headers_and_a_refusal_is_429_with_retry_after()
    {
        var key = await CreateKeyAsync(Host, new { name = "limited", rpm = 3, tpm = 100000 });
        using var client = ClientWithKey(Host, key.GetProperty("key").GetString()!);
        for (var i = 0; i < 3; i++)
        {
            using var ok = await ChatAsync(client);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal("3", Header(ok, "x-ratelimit-limit-requests"));
            Assert.Equal((2 - i).ToString(System.Globalization.CultureInfo.InvariantCulture), Header(ok, "x-ratelimit-remaining-requests"));
            Assert.Equal("100000", Header(ok, "x-ratelimit-limit-tokens"));
            Assert.Matches("^[0-9.]+(ms|s)$|^[0-9]+m[0-9]+s$", Header(ok, "x-ratelimit-reset-requests"));
            Assert.NotEmpty(Header(ok, "x-ratelimit-remaining-tokens"));
            Assert.NotEmpty(Header(ok, "x-ratelimit-reset-tokens"));
        }
        using var refused = await ChatAsync(client);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var error = await ErrorAsync(refused);
        Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
        var retryAfter = int.Parse(Header(refused, "retry-after"), System.Globalization.CultureInfo.InvariantCulture);
        var retryAfterMs = long.Parse(Header(refused, "retry-after-ms"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 20);
        Assert.InRange(retryAfterMs, 1, 20_000);
        Assert.Equal("0", Header(refused, "x-ratelimit-remaining-requests"));
        Assert.Equal(3, Upstream.Count);

        var records = await UsageOfKeyAsync(Host, key.GetProperty("id").GetString()!);
        Assert.Equal(429, records[0].GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task A_token_limit_refuses_once_the_estimated_and_actual_tokens_use_it_up()
    {
        // Each call: an estimated prompt of a few tokens, then 15 actual tokens reconciled after the call.
        var key = await CreateKeyAsync(Host, new { name = "tokens", tpm = 40 });
        using var client = ClientWithKey(Host, key.GetProperty("key").GetString()!);
        var admitted = 0;
        HttpResponseMessage? last = null;
        for (var i = 0; i < 10; i++)
        {
            last?.Dispose();
            last = await ChatAsync(client);
            if (last.StatusCode != HttpStatusCode.OK) break;
            admitted++;
        }
        Assert.Equal(HttpStatusCode.TooManyRequests, last!.StatusCode);
        Assert.Equal("tokens", (await ErrorAsync(last)).GetProperty("type").GetString());
        // 40 tokens at 15 per call: the third call is admitted on the estimate and reconciled into debt; no fourth.
        Assert.InRange(admitted, 2, 3);
        last.Dispose();
    }

    [Fact]
    public async Task Many_parallel_clients_against_one_key_get_at_most_the_bucket_plus_one()
    {
        const int rpm = 10;
        var key = await CreateKeyAsync(Host, new { name = "parallel", rpm });
        var secret = key.GetProperty("key").GetString()!;
        var clients = Enumerable.Range(0, 8).Select(_ => ClientWithKey(Host, secret)).ToArray();
        var started = DateTimeOffset.UtcNow;
        var results = await Task.WhenAll(Enumerable.Range(0, 60).Select(async i =>
        {
            using var r = await ChatAsync(clients[i % clients.Length]);
            return r.StatusCode;
        }));
        var elapsed = DateTimeOffset.UtcNow - started;
        foreach (var c in clients) c.Dispose();
        var ok = results.Count(static s => s == HttpStatusCode.OK);
        Assert.All(results, static s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, s.ToString()));
        // The bucket refills one request every 6 s: whatever refilled during the burst is allowed, plus one.
        var refilled = (int)Math.Floor(elapsed.TotalSeconds * rpm / 60.0);
        Assert.InRange(ok, rpm, rpm + refilled + 1);
        Assert.Equal(ok, Upstream.Count);
    }

    [Fact]
    public async Task The_in_memory_bucket_admits_exactly_its_capacity_under_contention_and_refills_with_time()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-03-01T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var store = new InMemoryRateLimitStore(time);
        var limit = new RateLimit(Rpm: 100, Tpm: null);
        var admitted = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 100; i++)
            {
                if (store.TryAcquire("key:k", limit, 0).Allowed) Interlocked.Increment(ref admitted);
            }
        })));
        Assert.Equal(100, admitted);

        var refused = store.TryAcquire("key:k", limit, 0);
        Assert.False(refused.Allowed);
        Assert.Equal(TimeSpan.FromMilliseconds(600), refused.RetryAfter);
        time.Advance(TimeSpan.FromMilliseconds(600));
        Assert.True(store.TryAcquire("key:k", limit, 0).Allowed);
        Assert.False(store.TryAcquire("key:k", limit, 0).Allowed);
        time.Advance(TimeSpan.FromMinutes(1));
        var full = store.TryAcquire("key:k", limit, 0);
        Assert.Equal(99, full.RemainingRequests);
    }

    [Fact]
    public async Task Every_refusal_is_counted_in_metrics_by_reason()
    {
        var key = await CreateKeyAsync(Host, new { name = "metered-refusals", rpm = 1, models = new[] { "free-model" } });
        using var client = ClientWithKey(Host, key.GetProperty("key").GetString()!);
        using (var ok = await ChatAsync(client, "free-model")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var limited = await ChatAsync(client, "free-model")) Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        using (var scoped = await ChatAsync(client, "gpt-4o-mini")) Assert.Equal(HttpStatusCode.Forbidden, scoped.StatusCode);
        using (var badClient = ClientWithKey(Host, "llmm-unknown"))
        using (var unknown = await ChatAsync(badClient)) Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);

        var text = "";
        await Wait.UntilAsync(() =>
        {
            text = Host.Client.GetStringAsync("metrics").GetAwaiter().GetResult();
            return new[] { "rate_limit_exceeded", "model_not_allowed", "invalid_api_key" }
                .All(reason => text.Split('\n').Any(l => l.StartsWith("llmm_access_refusals", StringComparison.Ordinal) && l.Contains($"reason=\"{reason}\"", StringComparison.Ordinal)));
        }, TimeSpan.FromSeconds(20), "refusals in /metrics");
    }

    [Theory]
    [InlineData(20, "20ms")]
    [InlineData(1000, "1s")]
    [InlineData(6500, "6.5s")]
    [InlineData(360000, "6m0s")]
    [InlineData(3723000, "1h2m3s")]
    public void Durations_use_OpenAIs_format(long milliseconds, string expected) =>
        Assert.Equal(expected, RateLimitDuration.Format(TimeSpan.FromMilliseconds(milliseconds)));
}
