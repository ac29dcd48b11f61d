using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;

namespace LlmMarketplace.Optimizer.Experiments;

/// <summary>An experiment that steers traffic, with its current shares (fixed, or re-fitted by Thompson sampling).</summary>
internal sealed record ActiveExperiment(ExperimentRow Row, IReadOnlyList<VariantDto> Variants, double[] Shares)
{
    /// <summary>
    /// The variant of a unit (a user, session or key): a hash of experiment id and unit, a point in [0, 1), falls into one
    /// share's interval. Fixed shares keep every unit on its variant; adaptive shares move a unit only when the interval
    /// it falls in moves past it. A promoted experiment sends everyone to the winner.
    /// </summary>
    public VariantDto Assign(string unit)
    {
        if (Row.Winner is { } winner && Variants.FirstOrDefault(v => v.Name == winner) is { } won) return won;
        var point = UnitPoint(Row.Id, unit);
        var cumulative = 0.0;
        for (var i = 0; i < Variants.Count; i++)
        {
            cumulative += Shares[i];
            if (point < cumulative) return Variants[i];
        }
        return Variants[^1];
    }

    public static double UnitPoint(string experimentId, string unit)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(experimentId + ":" + unit), hash);
        return (BitConverter.ToUInt64(hash) >> 11) / (double)(1UL << 53);
    }
}

/// <summary>
/// The experiments that steer traffic, in memory by model (the hot path reads no table). Reloaded after every change
/// made here and every <c>Optimizer:Experiments:RefreshInterval</c> (changes made by other replicas, adaptive shares).
/// </summary>
internal sealed class ExperimentDirectory(ExperimentStore store, OptimizerOptions options)
{
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private readonly Random _random = options.Experiments.Seed is { } seed ? new Random(seed) : new Random();
    private FrozenDictionary<string, ActiveExperiment> _byModel = FrozenDictionary<string, ActiveExperiment>.Empty;

    public bool TryGet(string model, out ActiveExperiment experiment) => _byModel.TryGetValue(model, out experiment!);

    public double[] SharesOf(string experimentId) =>
        _byModel.Values.FirstOrDefault(e => e.Row.Id == experimentId)?.Shares ?? [];

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshLock.WaitAsync(cancellationToken);
        try
        {
            var active = new Dictionary<string, ActiveExperiment>(StringComparer.Ordinal);
            foreach (var row in await store.ActiveAsync(cancellationToken))
            {
                var variants = ExperimentsApi.ReadVariants(row.Variants);
                var shares = variants.Select(static v => v.Share).ToArray();
                if (row.Allocation == Allocation.Thompson && row.Status == ExperimentStatus.Running)
                {
                    var calls = await store.CallsAsync(row.Id, cancellationToken);
                    var evidence = variants.Select(v =>
                    {
                        var mine = calls.Where(c => c.Variant == v.Name).ToList();
                        var judged = mine.Where(static c => c.Score is not null).ToList();
                        var meanCost = mine.Count == 0 ? 0 : (double)mine.Average(static c => c.CostUsd);
                        return new ArmEvidence(judged.Sum(static c => c.Score!.Value), judged.Count, meanCost);
                    }).ToList();
                    lock (_random)
                    {
                        shares = new ThompsonAllocator(_random).Shares(evidence, row.MinShare, (double?)row.MaxCostPerCall);
                    }
                }
                active[row.Model] = new ActiveExperiment(row, variants, shares);
            }
            _byModel = active.ToFrozenDictionary(StringComparer.Ordinal);
        }
        finally
        {
            _refreshLock.Release();
        }
    }
}

/// <summary>JSON for variants stored as text.</summary>
internal static class ExperimentJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}
