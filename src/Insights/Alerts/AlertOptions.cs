namespace LlmMarketplace.Insights.Alerts;

/// <summary>The <c>Insights:Alerts</c> section: detector thresholds (with per-scope overrides) and automated responses.</summary>
public sealed record AlertOptions
{
    public const string SectionName = "Insights:Alerts";

    /// <summary>How often detectors look again when no usage arrives (to resolve alerts and close minutes).</summary>
    public TimeSpan EvaluationInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A deployment's share of calls with a server error (5xx) over <see cref="ErrorRateWindow"/> above which it alerts.</summary>
    public double ErrorRateThreshold { get; init; } = 0.05;

    public TimeSpan ErrorRateWindow { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Fewer calls than this in the window are not judged.</summary>
    public int ErrorRateMinRequests { get; init; } = 20;

    /// <summary>A deployment's mean latency in a minute above this multiple of its EWMA baseline is a latency spike.</summary>
    public double LatencyFactor { get; init; } = 2.0;

    /// <summary>A model's cost in a minute above this multiple of its EWMA baseline is a cost spike.</summary>
    public double CostFactor { get; init; } = 2.0;

    /// <summary>The weight of the newest minute in the latency and cost baselines.</summary>
    public double BaselineAlpha { get; init; } = 0.2;

    /// <summary>Minutes with traffic a baseline needs before spikes are judged against it.</summary>
    public int BaselineWarmupMinutes { get; init; } = 5;

    /// <summary>Calls a minute needs to be judged for a latency spike.</summary>
    public int SpikeMinRequests { get; init; } = 3;

    /// <summary>A provider whose calls all failed over this window (with at least <see cref="UnavailableMinRequests"/>) is unavailable.</summary>
    public TimeSpan UnavailableWindow { get; init; } = TimeSpan.FromMinutes(2);

    public int UnavailableMinRequests { get; init; } = 3;

    /// <summary>Raise an alert when a budget crosses its alert threshold.</summary>
    public bool BudgetAlerts { get; init; } = true;

    /// <summary>
    /// Open the circuit of a deployment with a high error rate, so routing fails over to the model's other deployments
    /// (only when each model it serves has another deployment available).
    /// </summary>
    public bool OpenCircuitOnErrors { get; init; } = true;

    /// <summary>Turn the response cache on for a model while its cost spikes.</summary>
    public bool EnableCacheOnCostSpike { get; init; } = true;

    /// <summary>Per-scope overrides, keyed <c>deployment:ID</c>, <c>model:NAME</c> or <c>provider:NAME</c>.</summary>
    public Dictionary<string, ScopeThresholds> Scopes { get; init; } = new(StringComparer.Ordinal);
}

/// <summary>Thresholds for one scope; unset values fall back to the defaults.</summary>
public sealed record ScopeThresholds
{
    public bool? Disabled { get; init; }
    public double? ErrorRateThreshold { get; init; }
    public int? ErrorRateMinRequests { get; init; }
    public double? LatencyFactor { get; init; }
    public double? CostFactor { get; init; }
}
