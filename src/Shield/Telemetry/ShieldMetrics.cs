using System.Diagnostics.Metrics;

namespace LlmMarketplace.Shield.Telemetry;

/// <summary>The shield's meter: findings by type, direction and action, and scan time.</summary>
public sealed class ShieldMetrics
{
    public const string MeterName = "LlmMarketplace.Shield";

    private readonly Counter<long> _findings;
    private readonly Histogram<double> _scanDuration;

    public ShieldMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _findings = meter.CreateCounter<long>("shield.findings", "{finding}", "Shield findings by type, direction (prompt, completion, api) and action (monitor, redact, block, none).");
        _scanDuration = meter.CreateHistogram<double>("shield.scan.duration", "s", "Time spent scanning one text.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05] });
    }

    public void Finding(string type, string direction, string action) =>
        _findings.Add(1, new KeyValuePair<string, object?>("type", type), new KeyValuePair<string, object?>("direction", direction), new KeyValuePair<string, object?>("action", action));

    public void Scanned(string direction, double seconds) =>
        _scanDuration.Record(seconds, new KeyValuePair<string, object?>("direction", direction));
}
