using System.Diagnostics.Metrics;

namespace LlmMarketplace.Insights.Telemetry;

/// <summary>The Insights module's meter.</summary>
internal sealed class InsightsMetrics
{
    public const string MeterName = "LlmMarketplace.Insights";

    private readonly Counter<long> _rolledUp;
    private readonly Counter<long> _slaViolations;
    private readonly Counter<long> _alerts;

    public InsightsMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _rolledUp = meter.CreateCounter<long>("marketplace.usage.rolled_up", "{record}", "Usage records folded into analytics rollups.");
        _alerts = meter.CreateCounter<long>("marketplace.alerts.fired", "{alert}", "Alerts opened by the incident detectors, by type.");
        _slaViolations = meter.CreateCounter<long>("marketplace.sla.violations", "{violation}", "SLA violations recorded per listing version and target.");
    }

    public void RolledUp(int count) => _rolledUp.Add(count);

    public void AlertFired(string type) => _alerts.Add(1, new KeyValuePair<string, object?>("type", type));

    public void SlaViolation(string listing, string target) =>
        _slaViolations.Add(1, new KeyValuePair<string, object?>("listing", listing), new KeyValuePair<string, object?>("target", target));
}
