using System.Diagnostics.Metrics;

namespace LlmMarketplace.Access.Telemetry;

/// <summary>The Access module's meter: refusals by reason, usage records written and their commit batches.</summary>
internal sealed class AccessMetrics
{
    public const string MeterName = "LlmMarketplace.Access";

    private readonly Counter<long> _refusals;
    private readonly Counter<long> _records;
    private readonly Histogram<long> _batch;
    private readonly Counter<long> _alerts;
    private readonly Counter<long> _spooled;

    public AccessMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _refusals = meter.CreateCounter<long>("llmm.access.refusals", "{request}", "Calls refused by access control, limits or budgets, by reason.");
        _records = meter.CreateCounter<long>("llmm.access.usage.records", "{record}", "Usage records committed.");
        _batch = meter.CreateHistogram<long>("llmm.access.usage.batch_size", "{record}", "Usage records per group commit.");
        _alerts = meter.CreateCounter<long>("llmm.access.budget.alerts", "{alert}", "Budget alert thresholds crossed.");
        _spooled = meter.CreateCounter<long>("llmm.access.usage.spooled", "{record}", "Usage records kept on local disk because the database could not take them.");
    }

    public void Refused(string reason) => _refusals.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Committed(int count)
    {
        _records.Add(count);
        _batch.Record(count);
    }

    public void Spooled(int count) => _spooled.Add(count);

    public void Alert(string scope) => _alerts.Add(1, new KeyValuePair<string, object?>("scope", scope));
}
