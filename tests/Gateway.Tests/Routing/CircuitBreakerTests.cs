using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Routing;
using Microsoft.Extensions.Time.Testing;

namespace LlmMarketplace.Gateway.Tests.Routing;

/// <summary>The per-deployment circuit breaker on a fake clock: closed, open for the break duration, half-open with a fixed number of probes.</summary>
public sealed class CircuitBreakerTests
{
    private static readonly TimeSpan Break = TimeSpan.FromSeconds(60);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private CircuitBreaker Create(int threshold = 5, int probes = 3) => new(new CircuitBreakerSettings(threshold, Break, probes), _time);

    private static void Fail(CircuitBreaker breaker, int times)
    {
        for (var i = 0; i < times; i++)
        {
            Assert.True(breaker.TryAcquire());
            breaker.RecordFailure();
        }
    }

    /// <summary>Opens the breaker, waits out the break, and returns it ready for probes.</summary>
    private CircuitBreaker HalfOpen(int probes = 3)
    {
        var breaker = Create(probes: probes);
        Fail(breaker, 5);
        _time.Advance(Break);
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        return breaker;
    }

    [Fact]
    public void The_defaults_are_five_failures_sixty_seconds_and_three_probes()
    {
        Assert.Equal(new CircuitBreakerSettings(5, TimeSpan.FromSeconds(60), 3), CircuitBreakerSettings.Default);
    }

    [Fact]
    public void It_opens_on_the_threshold_th_consecutive_failure_and_not_before()
    {
        var breaker = Create();

        Fail(breaker, 4);
        Assert.Equal(CircuitState.Closed, breaker.State);
        Assert.True(breaker.IsAvailable);

        Fail(breaker, 1);
        Assert.Equal(CircuitState.Open, breaker.State);
        Assert.False(breaker.IsAvailable);
        Assert.False(breaker.TryAcquire());
    }

    [Fact]
    public void A_success_resets_the_count_of_consecutive_failures()
    {
        var breaker = Create();

        Fail(breaker, 4);
        breaker.RecordSuccess();
        Fail(breaker, 4);

        Assert.Equal(CircuitState.Closed, breaker.State);
        Assert.Equal(4, breaker.ConsecutiveFailures);
    }

    [Fact]
    public void It_stays_open_until_the_break_duration_has_passed()
    {
        var breaker = Create();
        Fail(breaker, 5);

        _time.Advance(Break - TimeSpan.FromMilliseconds(1));
        Assert.Equal(CircuitState.Open, breaker.State);
        Assert.False(breaker.TryAcquire());

        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        Assert.True(breaker.TryAcquire());
    }

    [Fact]
    public void Half_open_admits_exactly_the_configured_number_of_probes()
    {
        var breaker = HalfOpen(probes: 3);

        Assert.True(breaker.TryAcquire());
        Assert.True(breaker.TryAcquire());
        Assert.True(breaker.TryAcquire());
        Assert.False(breaker.TryAcquire());
        Assert.False(breaker.IsAvailable);
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
    }

    [Fact]
    public void All_probes_succeeding_closes_the_circuit()
    {
        var breaker = HalfOpen(probes: 3);
        for (var i = 0; i < 3; i++) Assert.True(breaker.TryAcquire());

        breaker.RecordSuccess();
        breaker.RecordSuccess();
        Assert.Equal(CircuitState.HalfOpen, breaker.State);

        breaker.RecordSuccess();
        Assert.Equal(CircuitState.Closed, breaker.State);
        Assert.True(breaker.TryAcquire());
        Assert.True(breaker.TryAcquire());
        Assert.True(breaker.TryAcquire());
        Assert.True(breaker.TryAcquire());
    }

    [Fact]
    public void A_probe_failure_opens_the_circuit_again_for_a_full_break()
    {
        var breaker = HalfOpen(probes: 3);
        Assert.True(breaker.TryAcquire());
        Assert.True(breaker.TryAcquire());
        breaker.RecordSuccess();

        breaker.RecordFailure();

        Assert.Equal(CircuitState.Open, breaker.State);
        Assert.False(breaker.TryAcquire());
        _time.Advance(Break - TimeSpan.FromMilliseconds(1));
        Assert.False(breaker.TryAcquire());
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(breaker.TryAcquire());
    }

    [Fact]
    public void A_single_failure_in_half_open_reopens_even_below_the_threshold()
    {
        var breaker = HalfOpen(probes: 3);
        Assert.True(breaker.TryAcquire());

        breaker.RecordFailure();

        Assert.Equal(CircuitState.Open, breaker.State);
    }

    [Fact]
    public void An_abandoned_probe_gives_its_slot_back()
    {
        var breaker = HalfOpen(probes: 3);
        for (var i = 0; i < 3; i++) Assert.True(breaker.TryAcquire());
        Assert.False(breaker.TryAcquire());

        breaker.RecordAbandoned();

        Assert.True(breaker.IsAvailable);
        Assert.True(breaker.TryAcquire());
        Assert.False(breaker.TryAcquire());
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
    }

    [Fact]
    public void A_new_half_open_period_starts_with_all_its_probe_slots()
    {
        var breaker = HalfOpen(probes: 2);
        Assert.True(breaker.TryAcquire());
        Assert.True(breaker.TryAcquire());
        breaker.RecordFailure();

        _time.Advance(Break);

        Assert.True(breaker.TryAcquire());
        Assert.True(breaker.TryAcquire());
        Assert.False(breaker.TryAcquire());
    }

    [Fact]
    public void Trip_opens_and_reset_closes()
    {
        var breaker = Create();

        breaker.Trip();
        Assert.Equal(CircuitState.Open, breaker.State);
        Assert.False(breaker.TryAcquire());

        breaker.Reset();
        Assert.Equal(CircuitState.Closed, breaker.State);
        Assert.Equal(0, breaker.ConsecutiveFailures);
        Assert.True(breaker.TryAcquire());
    }
}
