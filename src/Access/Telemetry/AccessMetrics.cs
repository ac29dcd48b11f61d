using System.Diagnostics.Metrics;
using LlmMarketplace.BuildingBlocks.Telemetry;

namespace LlmMarketplace.Access.Telemetry;

/// <summary>The Access module's meter: refusals by reason, usage records written and their commit batches.</summary>
internal sealed class AccessMetrics(IMeterFactory meterFactory)
{
    public const string MeterName = "LlmMarketplace.Access";

    private readonly Counter<long> _refusals = meterFactory.Counter<long>(MeterName, "llmm.access.refusals", "{request}",
        "Calls refused by access control, limits or budgets, by reason.");
    private readonly Counter<long> _records = meterFactory.Counter<long>(MeterName, "llmm.access.usage.records", "{record}", "Usage records committed.");
    private readonly Histogram<long> _batch = meterFactory.Histogram<long>(MeterName, "llmm.access.usage.batch_size", "{record}", "Usage records per group commit.");
    private readonly Counter<long> _alerts = meterFactory.Counter<long>(MeterName, "llmm.access.budget.alerts", "{alert}", "Budget alert thresholds crossed.");
    private readonly Counter<long> _spooled = meterFactory.Counter<long>(MeterName, "llmm.access.usage.spooled", "{record}",
        "Usage records kept on local disk because the database could not take them.");

    public void Refused(string reason) => _refusals.Add(1, "reason", reason);

    public void Committed(int count)
    {
        _records.Add(count);
        _batch.Record(count);
    }

    public void Spooled(int count) => _spooled.Add(count);

    public void Alert(string scope) => _alerts.Add(1, "scope", scope);
}
