using System.Diagnostics.Metrics;
using LlmMarketplace.BuildingBlocks.Telemetry;

namespace LlmMarketplace.Optimizer;

/// <summary>The optimizer's meter: routing decisions and feedback learned.</summary>
internal sealed class OptimizerMetrics(IMeterFactory meterFactory)
{
    public const string MeterName = "LlmMarketplace.Optimizer";

    private readonly Counter<long> _routed = meterFactory.Counter<long>(MeterName, "llmm.optimizer.routed", "{request}",
        "Calls the auto-router routed, by model and kind of choice.");
    private readonly Counter<long> _learned = meterFactory.Counter<long>(MeterName, "llmm.optimizer.feedback_learned", "{feedback}", "Feedback the auto-router learned from.");
    private readonly Histogram<long> _callBatch = meterFactory.Histogram<long>(MeterName, "llmm.optimizer.experiment_call_batch", "{call}",
        "Experiment calls written per batch.");

    /// <param name="kind"><c>weak</c>, <c>strong</c>, <c>warmup</c> or <c>explore</c>; for cascaded calls also <c>escalated</c> (a hard check failed).</param>
    public void Routed(string model, string kind) => _routed.Add(1, "gen_ai.request.model", model, "kind", kind);

    public void ExperimentCallsWritten(int count) => _callBatch.Record(count);

    public void Learned(string model) => _learned.Add(1, "gen_ai.request.model", model);
}
