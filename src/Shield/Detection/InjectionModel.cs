using System.Buffers;

namespace LlmMarketplace.Shield.Detection;

/// <summary>
/// One logistic-regression head over <see cref="InjectionFeatures"/>: sparse weights for the hashed features, dense
/// weights for the heuristic signals followed by the sentence embedding's dimensions (none for a model without one).
/// </summary>
internal sealed class LinearHead
{
    public LinearHead(float[] weights, float[] dense, float bias)
    {
        Weights = weights;
        DenseWeights = dense;
        Bias = bias;
    }

    public float[] Weights { get; }

    /// <summary>Heuristic weights (<see cref="InjectionFeatures.HeuristicCount"/>), then embedding weights.</summary>
    public float[] DenseWeights { get; }

    public float Bias { get; set; }

    public float Margin(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, ReadOnlySpan<float> dense)
    {
        var sum = Bias;
        var w = Weights;
        for (var k = 0; k < indices.Length; k++)
        {
            sum += w[indices[k]] * values[k];
        }
        for (var k = 0; k < dense.Length; k++)
        {
            sum += DenseWeights[k] * dense[k];
        }
        return sum;
    }

    public static float Sigmoid(float margin) => 1f / (1f + MathF.Exp(-margin));
}

/// <summary>
/// The injection/jailbreak classifier: an "attack" head (attack vs benign) with its decision threshold, and a "kind"
/// head (jailbreak vs prompt injection) trained on attacks only. Stored as a compact binary (half-precision hashed
/// weights, full-precision dense ones) embedded in the assembly; rebuilt by the training program in bench/shield.
/// </summary>
internal sealed class InjectionModel
{
    private const string Magic = "LLMMSHD2";

    // Both heads' hashed weights side by side: one cache line per feature instead of two (the dot products are
    // bound by random reads into megabyte-sized arrays).
    private readonly float[] _pairs;

    /// <param name="embeddingDimensions">0 for a model of the text features only, else <see cref="InjectionFeatures.EmbeddingDimensions"/>.</param>
    public InjectionModel(LinearHead attack, LinearHead kind, float threshold, int embeddingDimensions)
    {
        if (attack.DenseWeights.Length != InjectionFeatures.HeuristicCount + embeddingDimensions || kind.DenseWeights.Length != attack.DenseWeights.Length)
        {
            throw new ArgumentException("The heads' dense weights do not match the heuristics and the embedding.", nameof(attack));
        }
        Attack = attack;
        Kind = kind;
        Threshold = threshold;
        EmbeddingDimensions = embeddingDimensions;
        _pairs = new float[InjectionFeatures.HashSize * 2];
        for (var i = 0; i < InjectionFeatures.HashSize; i++)
        {
            _pairs[2 * i] = attack.Weights[i];
            _pairs[2 * i + 1] = kind.Weights[i];
        }
    }

    public LinearHead Attack { get; }

    public LinearHead Kind { get; }

    /// <summary>Probability of "attack" at or above which a text is flagged.</summary>
    public float Threshold { get; set; }

    /// <summary>Dimensions of the sentence embedding the model reads beside the text features (0: none).</summary>
    public int EmbeddingDimensions { get; }

    /// <summary>
    /// The probability that <paramref name="text"/> is an attack, and that an attack is a jailbreak (rather than an
    /// injection). <paramref name="embedding"/> is the text's embedding (<see cref="InjectionFeatures.EmbedAsync"/>),
    /// empty for a model without one.
    /// </summary>
    public (float Attack, float Jailbreak) Score(ReadOnlySpan<char> text, ReadOnlySpan<float> embedding)
    {
        if (embedding.Length != EmbeddingDimensions)
        {
            throw new ArgumentException($"The model reads an embedding of {EmbeddingDimensions} dimensions; got {embedding.Length}.", nameof(embedding));
        }
        if (text.Length > InjectionFeatures.MaxChars) text = text[..InjectionFeatures.MaxChars];
        Span<float> heuristics = stackalloc float[InjectionFeatures.HeuristicCount];
        InjectionFeatures.Heuristics(text, heuristics);
        var n = InjectionFeatures.Hashed(text, out var indices, out var values);
        try
        {
            var attack = Attack.Bias;
            var kind = Kind.Bias;
            var pairs = _pairs;
            for (var k = 0; k < n; k++)
            {
                var at = indices[k] * 2;
                attack += pairs[at] * values[k];
                kind += pairs[at + 1] * values[k];
            }
            var attackDense = Attack.DenseWeights;
            var kindDense = Kind.DenseWeights;
            for (var k = 0; k < heuristics.Length; k++)
            {
                attack += attackDense[k] * heuristics[k];
                kind += kindDense[k] * heuristics[k];
            }
            var offset = heuristics.Length;
            for (var k = 0; k < embedding.Length; k++)
            {
                attack += attackDense[offset + k] * embedding[k];
                kind += kindDense[offset + k] * embedding[k];
            }
            return (LinearHead.Sigmoid(attack), LinearHead.Sigmoid(kind));
        }
        finally
        {
            ArrayPool<int>.Shared.Return(indices);
            ArrayPool<float>.Shared.Return(values);
        }
    }

    public static InjectionModel LoadEmbedded()
    {
        using var stream = typeof(InjectionModel).Assembly.GetManifestResourceStream("LlmMarketplace.Shield.injection.model")
            ?? throw new InvalidOperationException("The shield's classifier is missing from the assembly; rebuild it with bench/shield (train).");
        return Read(stream);
    }

    public static InjectionModel Read(Stream stream)
    {
        using var reader = new BinaryReader(stream);
        var magic = new string(reader.ReadChars(Magic.Length));
        if (magic != Magic) throw new InvalidDataException("Not a shield classifier file of this version; retrain it with bench/shield (train).");
        var bits = reader.ReadInt32();
        var heuristics = reader.ReadInt32();
        var embeddingDimensions = reader.ReadInt32();
        var embeddingModel = reader.ReadString();
        if (bits != InjectionFeatures.HashBits || heuristics != InjectionFeatures.HeuristicCount)
        {
            throw new InvalidDataException($"The classifier was trained with {bits} hash bits and {heuristics} heuristics; this build uses {InjectionFeatures.HashBits} and {InjectionFeatures.HeuristicCount}. Retrain it.");
        }
        if (embeddingDimensions != 0 && (embeddingDimensions != InjectionFeatures.EmbeddingDimensions || embeddingModel != InjectionFeatures.EmbeddingModel))
        {
            throw new InvalidDataException($"The classifier was trained on {embeddingModel} embeddings of {embeddingDimensions} dimensions; this build computes {InjectionFeatures.EmbeddingModel} ({InjectionFeatures.EmbeddingDimensions}). Retrain it.");
        }
        var threshold = reader.ReadSingle();
        var attack = ReadHead(reader, heuristics + embeddingDimensions);
        var kind = ReadHead(reader, heuristics + embeddingDimensions);
        return new InjectionModel(attack, kind, threshold, embeddingDimensions);
    }

    public void Write(Stream stream)
    {
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic.ToCharArray());
        writer.Write(InjectionFeatures.HashBits);
        writer.Write(InjectionFeatures.HeuristicCount);
        writer.Write(EmbeddingDimensions);
        writer.Write(EmbeddingDimensions == 0 ? "" : InjectionFeatures.EmbeddingModel);
        writer.Write(Threshold);
        WriteHead(writer, Attack);
        WriteHead(writer, Kind);
    }

    private static LinearHead ReadHead(BinaryReader reader, int denseCount)
    {
        var bias = reader.ReadSingle();
        var dense = new float[denseCount];
        for (var i = 0; i < dense.Length; i++) dense[i] = reader.ReadSingle();
        var weights = new float[InjectionFeatures.HashSize];
        for (var i = 0; i < weights.Length; i++) weights[i] = (float)BitConverter.UInt16BitsToHalf(reader.ReadUInt16());
        return new LinearHead(weights, dense, bias);
    }

    private static void WriteHead(BinaryWriter writer, LinearHead head)
    {
        writer.Write(head.Bias);
        foreach (var d in head.DenseWeights) writer.Write(d);
        foreach (var w in head.Weights) writer.Write(BitConverter.HalfToUInt16Bits((Half)w));
    }
}
