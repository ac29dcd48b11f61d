using System.Text;

namespace LlmMarketplace.Shield.Detection;

/// <summary>Which detector groups a scan runs.</summary>
public readonly record struct ScanGroups(bool Injection, bool Pii, bool Secrets)
{
    public static ScanGroups All => new(true, true, true);

    public bool Any => Injection || Pii || Secrets;
}

/// <summary>Runs the detectors over a text: personal data and secrets with exact spans, injection and jailbreak with the classifier.</summary>
public sealed class ShieldScanner
{
    /// <summary>Long texts are classified in overlapping windows so an attack at the end of a long prompt is not diluted.</summary>
    internal const int Window = 8192;
    internal const int Stride = 4096;

    private readonly InjectionModel _model;

    internal ShieldScanner(InjectionModel model)
    {
        _model = model;
    }

    internal InjectionModel Model => _model;

    /// <summary>The scanner with the classifier shipped in this assembly.</summary>
    public static ShieldScanner CreateDefault() => new(InjectionModel.LoadEmbedded());

    /// <summary>Findings ordered by start; the injection finding (if any) spans the window that scored highest.</summary>
    public List<Finding> Scan(string text, ScanGroups groups)
    {
        var findings = groups.Pii || groups.Secrets ? PiiDetector.Detect(text, groups.Pii, groups.Secrets) : [];
        if (groups.Injection && text.Length > 0 && ClassifyInjection(text) is { } injection)
        {
            findings.Insert(0, injection);
        }
        return findings;
    }

    /// <summary>A <c>prompt_injection</c> or <c>jailbreak</c> finding when the classifier flags the text, else null.</summary>
    internal Finding? ClassifyInjection(string text)
    {
        var best = (Attack: -1f, Jailbreak: 0f, Start: 0, End: 0);
        for (var start = 0; ; start += Stride)
        {
            var end = Math.Min(text.Length, start + Window);
            var (attack, jailbreak) = _model.Score(text.AsSpan(start, end - start));
            if (attack > best.Attack) best = (attack, jailbreak, start, end);
            if (end == text.Length) break;
        }
        if (best.Attack < _model.Threshold) return null;
        var type = best.Jailbreak >= 0.5f ? FindingTypes.Jailbreak : FindingTypes.PromptInjection;
        return new Finding(type, best.Start, best.End, Math.Round(best.Attack, 4));
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
