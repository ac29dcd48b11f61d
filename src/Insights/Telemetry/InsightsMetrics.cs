using System.Diagnostics.Metrics;
using LlmMarketplace.BuildingBlocks.Telemetry;

namespace LlmMarketplace.Insights.Telemetry;

/// <summary>The Insights module's meter.</summary>
internal sealed class InsightsMetrics(IMeterFactory meterFactory)
{
    public const string MeterName = "LlmMarketplace.Insights";

    private readonly Counter<long> _rolledUp = meterFactory.Counter<long>(MeterName, "marketplace.usage.rolled_up", "{record}",
        "Usage records folded into analytics rollups.");
    private readonly Counter<long> _alerts = meterFactory.Counter<long>(MeterName, "marketplace.alerts.fired", "{alert}", "Alerts opened by the incident detectors, by type.");
    private readonly Counter<long> _slaViolations = meterFactory.Counter<long>(MeterName, "marketplace.sla.violations", "{violation}",
        "SLA violations recorded per listing version and target.");

    public void RolledUp(int count) => _rolledUp.Add(count);

    public void AlertFired(string type) => _alerts.Add(1, "type", type);

    public void SlaViolation(string listing, string target) => _slaViolations.Add(1, "listing", listing, "target", target);
}
