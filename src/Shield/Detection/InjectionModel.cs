using System.Buffers;

namespace LlmMarketplace.Shield.Detection;

/// <summary>One logistic-regression head over <see cref="InjectionFeatures"/>.</summary>
internal sealed class LinearHead
{
    public LinearHead(float[] weights, float[] heuristics, float bias)
    {
        Weights = weights;
        HeuristicWeights = heuristics;
        Bias = bias;
    }

    public float[] Weights { get; }

    public float[] HeuristicWeights { get; }

    public float Bias { get; set; }

    public float Margin(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, ReadOnlySpan<float> heuristics)
    {
        var sum = Bias;
        var w = Weights;
        for (var k = 0; k < indices.Length; k++)
        {
            sum += w[indices[k]] * values[k];
        }
        for (var k = 0; k < heuristics.Length; k++)
        {
            sum += HeuristicWeights[k] * heuristics[k];
        }
        return sum;
    }

    public static float Sigmoid(float margin) => 1f / (1f + MathF.Exp(-margin));
}

/// <summary>
/// The injection/jailbreak classifier: an "attack" head (attack vs benign) with its decision threshold, and a "kind"
/// head (jailbreak vs prompt injection) trained on attacks only. Stored as a compact binary (half-precision hashed
/// weights) embedded in the assembly; rebuilt by the training program in bench/shield.
/// </summary>
internal sealed class InjectionModel
{
    private const string Magic = "LLMMSHD1";

    // Both heads' hashed weights side by side: one cache line per feature instead of two (the dot products are
    // bound by random reads into megabyte-sized arrays).
    private readonly float[] _pairs;

    public InjectionModel(LinearHead attack, LinearHead kind, float threshold)
    {
        Attack = attack;
        Kind = kind;
        Threshold = threshold;
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

    /// <summary>The probability that <paramref name="text"/> is an attack, and that an attack is a jailbreak (rather than an injection).</summary>
    public (float Attack, float Jailbreak) Score(ReadOnlySpan<char> text)
    {
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
            for (var k = 0; k < heuristics.Length; k++)
            {
                attack += Attack.HeuristicWeights[k] * heuristics[k];
                kind += Kind.HeuristicWeights[k] * heuristics[k];
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
        if (magic != Magic) throw new InvalidDataException("Not a shield classifier file.");
        var bits = reader.ReadInt32();
        var heuristics = reader.ReadInt32();
        if (bits != InjectionFeatures.HashBits || heuristics != InjectionFeatures.HeuristicCount)
        {
            throw new InvalidDataException($"The classifier was trained with {bits} hash bits and {heuristics} heuristics; this build uses {InjectionFeatures.HashBits} and {InjectionFeatures.HeuristicCount}. Retrain it.");
        }
        var threshold = reader.ReadSingle();
        var attack = ReadHead(reader);
        var kind = ReadHead(reader);
        return new InjectionModel(attack, kind, threshold);
    }

    public void Write(Stream stream)
    {
        using var writer = new BinaryWriter(stream, System.Text.Encoding.ASCII, leaveOpen: true);
        writer.Write(Magic.ToCharArray());
        writer.Write(InjectionFeatures.HashBits);
        writer.Write(InjectionFeatures.HeuristicCount);
        writer.Write(Threshold);
        WriteHead(writer, Attack);
        WriteHead(writer, Kind);
    }

    private static LinearHead ReadHead(BinaryReader reader)
    {
        var bias = reader.ReadSingle();
        var heuristics = new float[InjectionFeatures.HeuristicCount];
        for (var i = 0; i < heuristics.Length; i++) heuristics[i] = reader.ReadSingle();
        var weights = new float[InjectionFeatures.HashSize];
        for (var i = 0; i < weights.Length; i++) weights[i] = (float)BitConverter.UInt16BitsToHalf(reader.ReadUInt16());
        return new LinearHead(weights, heuristics, bias);
    }

    private static void WriteHead(BinaryWriter writer, LinearHead head)
    {
        writer.Write(head.Bias);
        foreach (var h in head.HeuristicWeights) writer.Write(h);
        foreach (var w in head.Weights) writer.Write(BitConverter.HalfToUInt16Bits((Half)w));
    }
}
