using System.Buffers.Binary;

namespace LlmMarketplace.Insights.Analytics;

/// <summary>
/// A DDSketch (Masson, Rim and Lee, VLDB 2019) of positive values, such as latencies in milliseconds: every quantile
/// it answers is within <see cref="RelativeAccuracy"/> of the true value, and two sketches merge exactly (the merge of
/// the sketches of two sets is the sketch of their union), so buckets combine across time and replicas.
/// Values at or below <see cref="MinIndexableValue"/> count as zero. Bins are collapsed from the low end past
/// <see cref="MaxBins"/>, which only ever affects the lowest quantiles.
/// </summary>
internal sealed class DDSketch
{
    public const double RelativeAccuracy = 0.01;
    public const int MaxBins = 2048;
    public const double MinIndexableValue = 1e-3;

    private const byte FormatVersion = 1;
    private static readonly double Gamma = (1 + RelativeAccuracy) / (1 - RelativeAccuracy);
    private static readonly double LogGamma = Math.Log(Gamma);

    private readonly SortedDictionary<int, long> _bins = [];

    public long Count { get; private set; }

    public long ZeroCount { get; private set; }

    public double Sum { get; private set; }

    public double Min { get; private set; } = double.PositiveInfinity;

    public double Max { get; private set; } = double.NegativeInfinity;

    public bool IsEmpty => Count == 0;

    public void Add(double value)
    {
        if (double.IsNaN(value) || value < 0) return;
        if (value <= MinIndexableValue)
        {
            ZeroCount++;
        }
        else
        {
            var index = (int)Math.Ceiling(Math.Log(value) / LogGamma);
            _bins[index] = _bins.GetValueOrDefault(index) + 1;
            CollapseIfNeeded();
        }
        Count++;
        Sum += value;
        if (value < Min) Min = value;
        if (value > Max) Max = value;
    }

    public void Merge(DDSketch other)
    {
        if (other.IsEmpty) return;
        foreach (var (index, count) in other._bins) _bins[index] = _bins.GetValueOrDefault(index) + count;
        ZeroCount += other.ZeroCount;
        Count += other.Count;
        Sum += other.Sum;
        Min = Math.Min(Min, other.Min);
        Max = Math.Max(Max, other.Max);
        CollapseIfNeeded();
    }

    /// <summary>The value at quantile <paramref name="q"/> in [0, 1], or null when the sketch is empty.</summary>
    public double? Quantile(double q)
    {
        if (Count == 0) return null;
        if (q <= 0) return Min;
        if (q >= 1) return Max;
        var rank = q * (Count - 1);
        double seen = ZeroCount;
        if (seen > rank) return Math.Max(0, Min);
        foreach (var (index, count) in _bins)
        {
            seen += count;
            if (seen > rank)
            {
                var value = 2 * Math.Pow(Gamma, index) / (Gamma + 1);
                return Math.Clamp(value, Min, Max);
            }
        }
        return Max;
    }

    private void CollapseIfNeeded()
    {
        while (_bins.Count > MaxBins)
        {
            using var e = _bins.GetEnumerator();
            e.MoveNext();
            var (lowest, lowCount) = e.Current;
            e.MoveNext();
            var next = e.Current.Key;
            _bins.Remove(lowest);
            _bins[next] += lowCount;
        }
    }

    /// <summary>A compact binary form: version, count of zeros, sum, min, max, then bins as delta-encoded varints.</summary>
    public byte[] ToBytes()
    {
        var buffer = new byte[1 + 10 + 8 * 3 + 5 + (_bins.Count * 15)];
        var at = 0;
        buffer[at++] = FormatVersion;
        at += WriteVarint(buffer.AsSpan(at), (ulong)ZeroCount);
        BinaryPrimitives.WriteDoubleLittleEndian(buffer.AsSpan(at), Sum);
        at += 8;
        BinaryPrimitives.WriteDoubleLittleEndian(buffer.AsSpan(at), Count == 0 ? 0 : Min);
        at += 8;
        BinaryPrimitives.WriteDoubleLittleEndian(buffer.AsSpan(at), Count == 0 ? 0 : Max);
        at += 8;
        at += WriteVarint(buffer.AsSpan(at), (ulong)_bins.Count);
        var previous = 0;
        foreach (var (index, count) in _bins)
        {
            var delta = index - previous;
            at += WriteVarint(buffer.AsSpan(at), (ulong)((delta << 1) ^ (delta >> 31)));
            at += WriteVarint(buffer.AsSpan(at), (ulong)count);
            previous = index;
        }
        return buffer[..at];
    }

    public static DDSketch FromBytes(ReadOnlySpan<byte> bytes)
    {
        var sketch = new DDSketch();
        sketch.MergeBytes(bytes);
        return sketch;
    }

    /// <summary>Merges a serialized sketch without materializing it.</summary>
    public void MergeBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;
        if (bytes[0] != FormatVersion) throw new FormatException($"Unknown sketch format {bytes[0]}.");
        var at = 1;
        var zeros = (long)ReadVarint(bytes, ref at);
        var sum = BinaryPrimitives.ReadDoubleLittleEndian(bytes[at..]);
        at += 8;
        var min = BinaryPrimitives.ReadDoubleLittleEndian(bytes[at..]);
        at += 8;
        var max = BinaryPrimitives.ReadDoubleLittleEndian(bytes[at..]);
        at += 8;
        var bins = (int)ReadVarint(bytes, ref at);
        long count = zeros;
        var index = 0;
        for (var i = 0; i < bins; i++)
        {
            var zig = (uint)ReadVarint(bytes, ref at);
            index += (int)(zig >> 1) ^ -(int)(zig & 1);
            var c = (long)ReadVarint(bytes, ref at);
            _bins[index] = _bins.GetValueOrDefault(index) + c;
            count += c;
        }
        if (count == 0) return;
        ZeroCount += zeros;
        Count += count;
        Sum += sum;
        Min = Math.Min(Min, min);
        Max = Math.Max(Max, max);
        CollapseIfNeeded();
    }

    private static int WriteVarint(Span<byte> span, ulong value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[i++] = (byte)value;
        return i;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> span, ref int at)
    {
        ulong result = 0;
        var shift = 0;
        while (true)
        {
            var b = span[at++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return result;
            shift += 7;
            if (shift > 63) throw new FormatException("Malformed varint in sketch.");
        }
    }
}
