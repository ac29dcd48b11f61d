using LlmMarketplace.Gateway.Configuration;

namespace LlmMarketplace.Gateway.Routing;

/// <summary>What the gateway has observed of one deployment: its circuit, an EWMA of latency and of success.</summary>
internal sealed class DeploymentHealth(string id, CircuitBreakerSettings breaker, double alpha, TimeProvider time)
{
    private readonly Lock _lock = new();
    private double _latencyMs;
    private double _successRate = 1.0;
    private long _requests;
    private long _failures;

    public string Id { get; } = id;

    public CircuitBreaker Circuit { get; } = new(breaker, time);

    public double Alpha { get; set; } = alpha;

    /// <summary>EWMA of the latency to the first byte, in milliseconds; 0 until observed.</summary>
    public double LatencyMs
    {
        get { lock (_lock) return _latencyMs; }
    }

    public double SuccessRate
    {
        get { lock (_lock) return _successRate; }
    }

    public long Requests => Interlocked.Read(ref _requests);

    public long Failures => Interlocked.Read(ref _failures);

    public void RecordSuccess(TimeSpan latency)
    {
        Interlocked.Increment(ref _requests);
        lock (_lock)
        {
            var ms = latency.TotalMilliseconds;
            _latencyMs = _latencyMs == 0 ? ms : (Alpha * ms) + ((1 - Alpha) * _latencyMs);
            _successRate = (Alpha * 1.0) + ((1 - Alpha) * _successRate);
        }
        Circuit.RecordSuccess();
    }

    public void RecordFailure()
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Increment(ref _failures);
        lock (_lock)
        {
            _successRate = (1 - Alpha) * _successRate;
        }
        Circuit.RecordFailure();
    }
}
