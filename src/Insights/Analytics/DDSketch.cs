using System.Buffers;
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

    // Dense counts for the bin indexes [_offset, _offset + _counts.Length); merging is an array add, no allocation.
    private long[] _counts = [];
    private int _offset;
    private int _minIndex = int.MaxValue;
    private int _maxIndex = int.MinValue;

    public long Count { get; private set; }

    public long ZeroCount { get; private set; }

    public double Sum { get; private set; }

    public double Min { get; private set; } = double.PositiveInfinity;

    public double Max { get; private set; } = double.NegativeInfinity;

    public bool IsEmpty => Count == 0;

    /// <summary>How many bins hold values.</summary>
    public int BinCount
    {
        get
        {
            var n = 0;
            for (var i = _minIndex; i <= _maxIndex; i++) if (_counts[i - _offset] != 0) n++;
            return n;
        }
    }

    public void Add(double value)
    {
        if (double.IsNaN(value) || value < 0) return;
        if (value <= MinIndexableValue)
        {
            ZeroCount++;
        }
        else
        {
            AddToBin((int)Math.Ceiling(Math.Log(value) / LogGamma), 1);
        }
        Count++;
        Sum += value;
        if (value < Min) Min = value;
        if (value > Max) Max = value;
    }

    public void Merge(DDSketch other)
    {
        if (other.IsEmpty) return;
        if (other._maxIndex != int.MinValue) Reserve(other._minIndex, other._maxIndex);
        for (var i = other._minIndex; i <= other._maxIndex; i++)
        {
            var c = other._counts[i - other._offset];
            if (c != 0) AddToBin(i, c);
        }
        ZeroCount += other.ZeroCount;
        Count += other.Count;
        Sum += other.Sum;
        Min = Math.Min(Min, other.Min);
        Max = Math.Max(Max, other.Max);
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
        for (var index = _minIndex; index <= _maxIndex; index++)
        {
            seen += _counts[index - _offset];
            if (seen > rank)
            {
                var value = 2 * Math.Pow(Gamma, index) / (Gamma + 1);
                return Math.Clamp(value, Min, Max);
            }
        }
        return Max;
    }

    /// <summary>Adds to a bin; past <see cref="MaxBins"/> the lowest bins are collapsed into the lowest one kept.</summary>
    private void AddToBin(int index, long count)
    {
        if (index > _maxIndex && _maxIndex != int.MinValue && index - _minIndex + 1 > MaxBins)
        {
            CollapseBelow(index - MaxBins + 1);
        }
        else if (_maxIndex != int.MinValue && index < _maxIndex - MaxBins + 1)
        {
            index = _maxIndex - MaxBins + 1;
        }
        if (_counts.Length == 0)
        {
            _counts = new long[64];
            _offset = index - 32;
        }
        else if (index < _offset || index >= _offset + _counts.Length)
        {
            Grow(Math.Min(index, _minIndex), Math.Max(index, _maxIndex), _counts.Length * 2);
        }
        _counts[index - _offset] += count;
        if (index < _minIndex) _minIndex = index;
        if (index > _maxIndex) _maxIndex = index;
    }

    /// <summary>
    /// Makes room for the bin indexes [<paramref name="low"/>, <paramref name="high"/>] (as far as <see cref="MaxBins"/>
    /// allows) in one allocation, so that a merge does not grow the array step by step.
    /// </summary>
    private void Reserve(int low, int high)
    {
        low = Math.Max(low, high - MaxBins + 1);
        if (_maxIndex != int.MinValue)
        {
            low = Math.Min(low, _minIndex);
            high = Math.Max(high, _maxIndex);
            if (low >= _offset && high < _offset + _counts.Length) return;
            Grow(low, high, 0);
            return;
        }
        _counts = new long[high - low + 1 + 32];
        _offset = low - 16;
    }

    /// <summary>Moves the bins into a new array covering [<paramref name="low"/>, <paramref name="high"/>] with slack on both sides.</summary>
    private void Grow(int low, int high, int atLeast)
    {
        var length = Math.Max(atLeast, high - low + 1 + 32);
        var grown = new long[length];
        var newOffset = low - ((length - (high - low + 1)) / 2);
        // A sketch can be empty here (room reserved, nothing added yet): then there is nothing to move.
        if (_maxIndex != int.MinValue) Array.Copy(_counts, _minIndex - _offset, grown, _minIndex - newOffset, _maxIndex - _minIndex + 1);
        _counts = grown;
        _offset = newOffset;
    }

    private void CollapseBelow(int lowestKept)
    {
        if (_minIndex >= lowestKept) return;
        long folded = 0;
        for (var i = _minIndex; i < lowestKept && i <= _maxIndex; i++)
        {
            folded += _counts[i - _offset];
            _counts[i - _offset] = 0;
        }
        if (lowestKept > _maxIndex)
        {
            // Everything collapses into the new lowest bin; the caller then adds the new one above it.
            _minIndex = int.MaxValue;
            _maxIndex = int.MinValue;
            _counts = [];
            if (folded != 0) AddToBin(lowestKept, folded);
            return;
        }
        _counts[lowestKept - _offset] += folded;
        _minIndex = lowestKept;
    }

    /// <summary>A compact binary form: version, count of zeros, sum, min, max, then bins as delta-encoded varints.</summary>
    public byte[] ToBytes()
    {
        var bins = BinCount;
        // Written into a pooled worst-case buffer, then copied out at its exact length: one allocation per sketch.
        var rented = ArrayPool<byte>.Shared.Rent(1 + 10 + 8 * 3 + 5 + (bins * 15));
        try
        {
            var length = Write(rented, bins);
            return rented.AsSpan(0, length).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private int Write(Span<byte> buffer, int bins)
    {
        var at = 0;
        buffer[at++] = FormatVersion;
        at += WriteVarint(buffer[at..], (ulong)ZeroCount);
        BinaryPrimitives.WriteDoubleLittleEndian(buffer[at..], Sum);
        at += 8;
        BinaryPrimitives.WriteDoubleLittleEndian(buffer[at..], Count == 0 ? 0 : Min);
        at += 8;
        BinaryPrimitives.WriteDoubleLittleEndian(buffer[at..], Count == 0 ? 0 : Max);
        at += 8;
        at += WriteVarint(buffer[at..], (ulong)bins);
        var previous = 0;
        for (var index = _minIndex; index <= _maxIndex; index++)
        {
            var count = _counts[index - _offset];
            if (count == 0) continue;
            var delta = index - previous;
            at += WriteVarint(buffer[at..], (ulong)((delta << 1) ^ (delta >> 31)));
            at += WriteVarint(buffer[at..], (ulong)count);
            previous = index;
        }
        return at;
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
        if (bins > 0) ReserveFor(bytes[at..], bins);
        long count = zeros;
        var index = 0;
        for (var i = 0; i < bins; i++)
        {
            var zig = (uint)ReadVarint(bytes, ref at);
            index += (int)(zig >> 1) ^ -(int)(zig & 1);
            var c = (long)ReadVarint(bytes, ref at);
            AddToBin(index, c);
            count += c;
        }
        if (count == 0) return;
        ZeroCount += zeros;
        Count += count;
        Sum += sum;
        Min = Math.Min(Min, min);
        Max = Math.Max(Max, max);
    }

    /// <summary>Reserves the range of the serialized bins (their indexes ascend: the first and the last bound it).</summary>
    private void ReserveFor(ReadOnlySpan<byte> encodedBins, int bins)
    {
        var at = 0;
        var index = 0;
        var low = 0;
        for (var i = 0; i < bins; i++)
        {
            var zig = (uint)ReadVarint(encodedBins, ref at);
            index += (int)(zig >> 1) ^ -(int)(zig & 1);
            if (i == 0) low = index;
            ReadVarint(encodedBins, ref at);
        }
        Reserve(low, index);
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
