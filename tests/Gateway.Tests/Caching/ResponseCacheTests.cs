using LlmMarketplace.Gateway.Caching;
using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Providers;
using Microsoft.Extensions.Time.Testing;

namespace LlmMarketplace.Gateway.Tests.Caching;

/// <summary>The in-memory response cache: bounded by size with least-recently-used eviction, and a TTL per entry on a fake clock.</summary>
public sealed class ResponseCacheTests
{
    private const int BodyBytes = 1000;
    private const long EntrySize = BodyBytes + 256;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private CachedResponse Entry(TimeSpan? ttl = null, int size = BodyBytes, byte fill = 1) =>
        new(Enumerable.Repeat(fill, size).ToArray(), false, "p", "p/m", new TokenUsage(1, 1), _time.GetUtcNow() + (ttl ?? TimeSpan.FromMinutes(1)));

    [Fact]
    public void A_stored_entry_is_returned()
    {
        var cache = new ResponseCache(_time);
        var entry = Entry(fill: 7);

        cache.Set("k", entry);

        Assert.True(cache.TryGet("k", out var hit));
        Assert.Same(entry, hit);
        Assert.False(cache.TryGet("other", out _));
    }

    [Fact]
    public void When_full_the_least_recently_used_entry_is_evicted()
    {
        var cache = new ResponseCache(_time) { MaxBytes = 3 * EntrySize };
        cache.Set("a", Entry());
        cache.Set("b", Entry());
        cache.Set("c", Entry());
        Assert.True(cache.TryGet("a", out _)); // a is now the most recently used; b the least

        cache.Set("d", Entry());

        Assert.False(cache.TryGet("b", out _));
        Assert.True(cache.TryGet("a", out _));
        Assert.True(cache.TryGet("c", out _));
        Assert.True(cache.TryGet("d", out _));
        Assert.Equal(3, cache.Count);
        Assert.Equal(3 * EntrySize, cache.Size);
    }

    [Fact]
    public void A_large_entry_evicts_as_many_old_ones_as_it_needs()
    {
        var cache = new ResponseCache(_time) { MaxBytes = 3 * EntrySize };
        cache.Set("a", Entry());
        cache.Set("b", Entry());
        cache.Set("c", Entry());

        cache.Set("big", Entry(size: (2 * BodyBytes) + 200));

        Assert.False(cache.TryGet("a", out _));
        Assert.False(cache.TryGet("b", out _));
        Assert.True(cache.TryGet("c", out _));
        Assert.True(cache.TryGet("big", out _));
        Assert.True(cache.Size <= cache.MaxBytes);
    }

    [Fact]
    public void An_entry_larger_than_the_whole_cache_is_not_stored_and_evicts_nothing()
    {
        var cache = new ResponseCache(_time) { MaxBytes = 3 * EntrySize };
        cache.Set("a", Entry());

        cache.Set("huge", Entry(size: 4 * BodyBytes));

        Assert.False(cache.TryGet("huge", out _));
        Assert.True(cache.TryGet("a", out _));
        Assert.Equal(EntrySize, cache.Size);
    }

    [Fact]
    public void Replacing_an_entry_does_not_count_its_size_twice()
    {
        var cache = new ResponseCache(_time) { MaxBytes = 3 * EntrySize };
        cache.Set("a", Entry(fill: 1));

        var replacement = Entry(fill: 2);
        cache.Set("a", replacement);

        Assert.Equal(1, cache.Count);
        Assert.Equal(EntrySize, cache.Size);
        Assert.True(cache.TryGet("a", out var hit));
        Assert.Same(replacement, hit);
    }

    [Fact]
    public void An_entry_expires_at_its_ttl()
    {
        var cache = new ResponseCache(_time);
        cache.Set("k", Entry(ttl: TimeSpan.FromSeconds(10)));

        _time.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromMilliseconds(1));
        Assert.True(cache.TryGet("k", out _));

        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(cache.TryGet("k", out _));
        Assert.Equal(0, cache.Count);
        Assert.Equal(0, cache.Size);
    }

    [Fact]
    public void Entries_expire_independently()
    {
        var cache = new ResponseCache(_time);
        cache.Set("short", Entry(ttl: TimeSpan.FromSeconds(5)));
        cache.Set("long", Entry(ttl: TimeSpan.FromSeconds(50)));

        _time.Advance(TimeSpan.FromSeconds(6));

        Assert.False(cache.TryGet("short", out _));
        Assert.True(cache.TryGet("long", out _));
    }

    [Fact]
    public void Clear_empties_the_cache()
    {
        var cache = new ResponseCache(_time);
        cache.Set("a", Entry());
        cache.Set("b", Entry());

        cache.Clear();

        Assert.Equal(0, cache.Count);
        Assert.Equal(0, cache.Size);
        Assert.False(cache.TryGet("a", out _));
    }
}

/// <summary>Per-request cache control read from <c>Cache-Control</c> and <c>x-gateway-cache-ttl</c>.</summary>
public sealed class CacheControlTests
{
    [Fact]
    public void No_header_means_look_up_and_store_with_the_default_ttl()
    {
        Assert.Equal(new CacheControl(false, false, null), CacheControl.Parse("", ""));
    }

    [Fact]
    public void No_cache_skips_the_lookup_only()
    {
        var control = CacheControl.Parse("no-cache", "");
        Assert.True(control.NoCache);
        Assert.False(control.NoStore);
    }

    [Fact]
    public void No_store_skips_the_cache()
    {
        Assert.True(CacheControl.Parse("No-Store", "").NoStore);
    }

    [Fact]
    public void Max_age_and_the_gateway_header_set_the_ttl_and_the_gateway_header_wins()
    {
        Assert.Equal(TimeSpan.FromSeconds(30), CacheControl.Parse("max-age=30", "").Ttl);
        Assert.Equal(TimeSpan.FromSeconds(90), CacheControl.Parse("", "90").Ttl);
        Assert.Equal(TimeSpan.FromSeconds(90), CacheControl.Parse("max-age=30", "90").Ttl);
        var both = CacheControl.Parse("no-cache, max-age=30", "");
        Assert.True(both.NoCache);
        Assert.Equal(TimeSpan.FromSeconds(30), both.Ttl);
    }

    [Fact]
    public void A_ttl_of_zero_means_do_not_store()
    {
        Assert.True(CacheControl.Parse("max-age=0", "").NoStore);
        Assert.True(CacheControl.Parse("", "0").NoStore);
    }

    [Fact]
    public void Malformed_values_are_ignored()
    {
        Assert.Null(CacheControl.Parse("max-age=soon", "later").Ttl);
        Assert.Null(CacheControl.Parse("max-age=-5", "-1").Ttl);
    }
}
