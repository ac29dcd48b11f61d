using System.Text;
using LlmMarketplace.BuildingBlocks.Embeddings;

namespace LlmMarketplace.Shield.Detection;

/// <summary>Which detector groups a scan runs.</summary>
public readonly record struct ScanGroups(bool Injection, bool Pii, bool Secrets)
{
    public static ScanGroups All => new(true, true, true);

    public bool Any => Injection || Pii || Secrets;
}

/// <summary>One text to scan and the detector groups to run on it.</summary>
public readonly record struct ScanItem(string Text, ScanGroups Groups);

/// <summary>
/// Runs the detectors over a text: personal data and secrets with exact spans, injection and jailbreak with the
/// classifier (text features and the in-process sentence embedding).
/// </summary>
public sealed class ShieldScanner
{
    /// <summary>Long texts are classified in overlapping windows so an attack at the end of a long prompt is not diluted.</summary>
    internal const int Window = 8192;
    internal const int Stride = 4096;

    private readonly InjectionModel _model;
    private readonly LocalEmbeddingModel? _embedder;

    internal ShieldScanner(InjectionModel model, LocalEmbeddingModel? embedder)
    {
        if (model.EmbeddingDimensions > 0 && embedder is null) throw new ArgumentNullException(nameof(embedder), "The classifier reads sentence embeddings: pass the embedding model.");
        _model = model;
        _embedder = embedder;
    }

    internal InjectionModel Model => _model;

    /// <summary>The embedding model the classifier reads (null for a model of the text features only).</summary>
    internal LocalEmbeddingModel? Embedder => _embedder;

    /// <summary>The scanner with the classifier shipped in this assembly (and the in-process embedding model it reads).</summary>
    public static ShieldScanner CreateDefault()
    {
        var model = InjectionModel.LoadEmbedded();
        return new(model, model.EmbeddingDimensions > 0 ? LocalEmbeddingModel.Get(InjectionFeatures.EmbeddingModel) : null);
    }

    /// <summary>
    /// Personal data and secrets only (no classifier): synchronous, for texts scanned as they pass. Use
    /// <see cref="ScanAsync(string, ScanGroups, CancellationToken)"/> when injection is wanted.
    /// </summary>
    public List<Finding> Scan(string text, ScanGroups groups)
    {
        if (groups.Injection) throw new ArgumentException("The injection classifier reads an embedding: use ScanAsync.", nameof(groups));
        return groups.Pii || groups.Secrets ? PiiDetector.Detect(text, groups.Pii, groups.Secrets) : [];
    }

    /// <summary>Findings ordered by start; the injection finding (if any) spans the window that scored highest.</summary>
    public async ValueTask<List<Finding>> ScanAsync(string text, ScanGroups groups, CancellationToken cancellationToken = default) =>
        (await ScanAsync([new ScanItem(text, groups)], cancellationToken))[0];

    /// <summary>
    /// Scans several texts (the messages of one request) with one call into the embedding model for all of them, so a
    /// request pays for one batch rather than one model run per message. Findings per item, ordered by start.
    /// </summary>
    public async ValueTask<List<Finding>[]> ScanAsync(IReadOnlyList<ScanItem> items, CancellationToken cancellationToken = default)
    {
        var results = new List<Finding>[items.Count];
        var windows = new List<(int Item, int Start, int End)>();
        for (var i = 0; i < items.Count; i++)
        {
            var (text, groups) = items[i];
            results[i] = groups.Pii || groups.Secrets ? PiiDetector.Detect(text, groups.Pii, groups.Secrets) : [];
            if (!groups.Injection || text.Length == 0) continue;
            for (var start = 0; ; start += Stride)
            {
                var end = Math.Min(text.Length, start + Window);
                windows.Add((i, start, end));
                if (end == text.Length) break;
            }
        }
        if (windows.Count == 0) return results;

        var embeddings = _embedder is null
            ? null
            : await InjectionFeatures.EmbedAsync(_embedder, windows.Select(w => items[w.Item].Text[w.Start..w.End]), cancellationToken);
        var best = new (float Attack, float Jailbreak, int Start, int End)[items.Count];
        Array.Fill(best, (-1f, 0f, 0, 0));
        for (var k = 0; k < windows.Count; k++)
        {
            var (item, start, end) = windows[k];
            var (attack, jailbreak) = _model.Score(items[item].Text.AsSpan(start, end - start), embeddings is null ? default : embeddings[k]);
            if (attack > best[item].Attack) best[item] = (attack, jailbreak, start, end);
        }
        for (var i = 0; i < items.Count; i++)
        {
            if (best[i].Attack < _model.Threshold) continue;
            var type = best[i].Jailbreak >= 0.5f ? FindingTypes.Jailbreak : FindingTypes.PromptInjection;
            results[i].Insert(0, new Finding(type, best[i].Start, best[i].End, Math.Round(best[i].Attack, 4)));
        }
        return results;
    }

    /// <summary>Replaces the spans of the given findings by their placeholders (<c>[EMAIL]</c>...). Injection findings are not redactable and are skipped.</summary>
    public static string Redact(string text, IEnumerable<Finding> findings)
    {
        StringBuilder? builder = null;
        var position = 0;
        foreach (var f in findings.Where(static f => FindingTypes.GroupOf(f.Type) != DetectorGroup.Injection).OrderBy(static f => f.Start))
        {
            if (f.Start < position) continue;
            builder ??= new StringBuilder(text.Length);
            builder.Append(text, position, f.Start - position).Append(FindingTypes.Placeholder(f.Type));
            position = f.End;
        }
        if (builder is null) return text;
        builder.Append(text, position, text.Length - position);
        return builder.ToString();
    }
}
