using LlmMarketplace.Gateway.Configuration;

namespace LlmMarketplace.Gateway.Routing;

public enum CircuitState
{
    Closed = 0,
    HalfOpen = 1,
    Open = 2,
}

/// <summary>
/// A per-deployment circuit breaker: opens after N consecutive failures, stays open for the break duration,
/// then lets a fixed number of probe calls through (half-open); all probes succeeding closes it, any failure reopens it.
/// </summary>
internal sealed class CircuitBreaker(CircuitBreakerSettings settings, TimeProvider time)
{
    private readonly Lock _lock = new();
    private CircuitState _state;
    private int _consecutiveFailures;
    private long _openUntil;
    private int _probesStarted;
    private int _probesSucceeded;

    public CircuitBreakerSettings Settings { get; set; } = settings;

    public CircuitState State
    {
        get
        {
            lock (_lock)
            {
                if (_state == CircuitState.Open && time.GetTimestamp() >= _openUntil)
                {
                    return CircuitState.HalfOpen;
                }
                return _state;
            }
        }
    }

    public int ConsecutiveFailures => Volatile.Read(ref _consecutiveFailures);

    /// <summary>Whether a call may go to this deployment now; in half-open, takes one of the probe slots.</summary>
    public bool TryAcquire()
    {
        lock (_lock)
        {
            switch (_state)
            {
                case CircuitState.Closed:
                    return true;
                case CircuitState.Open:
                    if (time.GetTimestamp() < _openUntil)
                    {
                        return false;
                    }
                    _state = CircuitState.HalfOpen;
                    _probesStarted = 0;
                    _probesSucceeded = 0;
                    goto case CircuitState.HalfOpen;
                case CircuitState.HalfOpen:
                    if (_probesStarted >= Settings.HalfOpenProbes)
                    {
                        return false;
                    }
                    _probesStarted++;
                    return true;
                default:
                    return false;
            }
        }
    }

    /// <summary>True when a call would be admitted, without taking a probe slot.</summary>
    public bool IsAvailable
    {
        get
        {
            lock (_lock)
            {
                return _state switch
                {
                    CircuitState.Closed => true,
                    CircuitState.Open => time.GetTimestamp() >= _openUntil,
                    _ => _probesStarted < Settings.HalfOpenProbes,
                };
            }
        }
    }

    public void RecordSuccess()
    {
        lock (_lock)
        {
            _consecutiveFailures = 0;
            if (_state == CircuitState.HalfOpen && ++_probesSucceeded >= Settings.HalfOpenProbes)
            {
                _state = CircuitState.Closed;
            }
        }
    }

    public void RecordFailure()
    {
        lock (_lock)
        {
            _consecutiveFailures++;
            if (_state == CircuitState.HalfOpen || (_state == CircuitState.Closed && _consecutiveFailures >= Settings.FailureThreshold))
            {
                Trip();
            }
        }
    }

    /// <summary>A call that took a slot ended without a verdict (the client went away): give the probe slot back.</summary>
    public void RecordAbandoned()
    {
        lock (_lock)
        {
            if (_state == CircuitState.HalfOpen && _probesStarted > _probesSucceeded)
            {
                _probesStarted--;
            }
        }
    }

    /// <summary>How long until this circuit admits its next probe (zero when it admits calls now).</summary>
    public TimeSpan UntilNextProbe
    {
        get
        {
            lock (_lock)
            {
                if (_state != CircuitState.Open) return TimeSpan.Zero;
                var remaining = _openUntil - time.GetTimestamp();
                return remaining <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((double)remaining / time.TimestampFrequency);
            }
        }
    }

    /// <summary>The most a <c>retry-after</c> for open circuits says: clients (the official SDKs sleep for it) retry soon and meet the next probe.</summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The <c>retry-after</c> seconds when every circuit is open: the time until the first of them admits a probe,
    /// rounded up, at least 1 and at most <see cref="MaxRetryAfter"/>.
    /// </summary>
    public static int RetryAfterSeconds(IEnumerable<CircuitBreaker> circuits)
    {
        var soonest = MaxRetryAfter;
        foreach (var circuit in circuits)
        {
            var until = circuit.UntilNextProbe;
            if (until < soonest) soonest = until;
        }
        return Math.Clamp((int)Math.Ceiling(soonest.TotalSeconds), 1, (int)MaxRetryAfter.TotalSeconds);
    }

    /// <summary>Opens the circuit now (used by operators and automated incident responses).</summary>
    public void Trip()
    {
        lock (_lock)
        {
            _state = CircuitState.Open;
            _openUntil = time.GetTimestamp() + (long)(Settings.BreakDuration.TotalSeconds * time.TimestampFrequency);
            _probesStarted = 0;
            _probesSucceeded = 0;
        }
    }

    public void Reset()
    {
        lock (_lock)
        {
            _state = CircuitState.Closed;
            _consecutiveFailures = 0;
        }
    }
}
