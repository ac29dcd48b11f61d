using System.Diagnostics.Metrics;

namespace LlmMarketplace.Optimizer;

/// <summary>The optimizer's meter: routing decisions and feedback learned.</summary>
internal sealed class OptimizerMetrics
{
    public const string MeterName = "LlmMarketplace.Optimizer";

    private readonly Counter<long> _routed;
    private readonly Counter<long> _learned;
    private readonly Histogram<long> _callBatch;

    public OptimizerMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _routed = meter.CreateCounter<long>("llmm.optimizer.routed", "{request}", "Calls the auto-router routed, by model and kind of choice.");
        _learned = meter.CreateCounter<long>("llmm.optimizer.feedback_learned", "{feedback}", "Feedback the auto-router learned from.");
        _callBatch = meter.CreateHistogram<long>("llmm.optimizer.experiment_call_batch", "{call}", "Experiment calls written per batch.");
    }

    /// <param name="kind"><c>weak</c>, <c>strong</c>, <c>warmup</c> or <c>explore</c>; for cascaded calls also <c>escalated</c> (a hard check failed).</param>
    public void Routed(string model, string kind) =>
        _routed.Add(1, new KeyValuePair<string, object?>("gen_ai.request.model", model), new KeyValuePair<string, object?>("kind", kind));

    public void ExperimentCallsWritten(int count) => _callBatch.Record(count);

    public void Learned(string model) => _learned.Add(1, new KeyValuePair<string, object?>("gen_ai.request.model", model));
}
