using CsCheck;
using LlmMarketplace.Insights.Analytics;

namespace LlmMarketplace.Insights.Tests.Analytics;

public sealed class DDSketchTests
{
    private static double Exact(List<double> sorted, double q) => sorted[(int)Math.Floor(q * (sorted.Count - 1))];

    private static List<double> LogNormal(int seed, int count, double mu, double sigma)
    {
        var random = new Random(seed);
        var values = new List<double>(count);
        for (var i = 0; i < count; i++)
        {
            var normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            values.Add(Math.Exp(mu + (sigma * normal)));
        }
        return values;
    }

    [Fact]
    public void Quantiles_are_within_the_relative_accuracy_of_the_exact_ones()
    {
        var values = LogNormal(1, 20_000, Math.Log(300), 1.2);
        var sketch = new DDSketch();
        foreach (var v in values) sketch.Add(v);
        values.Sort();
        foreach (var q in new[] { 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999 })
        {
            var exact = Exact(values, q);
            var estimate = sketch.Quantile(q)!.Value;
            Assert.True(Math.Abs(estimate - exact) <= (DDSketch.RelativeAccuracy * exact) + 1e-9, $"q={q}: {estimate} vs exact {exact}");
        }
        Assert.Equal(values.Count, sketch.Count);
        Assert.Equal(values.Sum(), sketch.Sum, 6);
    }

    [Fact]
    public void Merged_serialized_sketches_answer_like_one_sketch_of_all_values()
    {
        var a = LogNormal(2, 5000, Math.Log(50), 0.5);
        var b = LogNormal(3, 7000, Math.Log(2000), 0.8);
        var sa = new DDSketch();
        var sb = new DDSketch();
        var all = new DDSketch();
        foreach (var v in a) { sa.Add(v); all.Add(v); }
        foreach (var v in b) { sb.Add(v); all.Add(v); }
        var merged = DDSketch.FromBytes(sa.ToBytes());
        merged.MergeBytes(sb.ToBytes());
        var union = a.Concat(b).Order().ToList();
        foreach (var q in new[] { 0.5, 0.95, 0.99 })
        {
            Assert.Equal(all.Quantile(q), merged.Quantile(q));
            var exact = Exact(union, q);
            Assert.True(Math.Abs(merged.Quantile(q)!.Value - exact) <= DDSketch.RelativeAccuracy * exact, $"q={q}");
        }
        Assert.Equal(12_000, merged.Count);
    }

    [Fact]
    public void Zeros_and_an_empty_sketch_round_trip()
    {
        var empty = DDSketch.FromBytes(new DDSketch().ToBytes());
        Assert.True(empty.IsEmpty);
        Assert.Null(empty.Quantile(0.5));
        var zeros = new DDSketch();
        zeros.Add(0);
        zeros.Add(0);
        zeros.Add(10);
        var back = DDSketch.FromBytes(zeros.ToBytes());
        Assert.Equal(3, back.Count);
        Assert.Equal(0, back.Quantile(0.5));
        Assert.Equal(10, back.Quantile(1));
    }

    [Fact]
    public void Past_the_bin_limit_the_lowest_values_collapse_and_the_high_quantiles_stay_accurate()
    {
        // Values over 60 orders of magnitude need ~7,000 bins at 1%; the sketch keeps 2,048.
        var values = Enumerable.Range(0, 6000).Select(static i => Math.Pow(10, (i / 100.0) - 3)).ToList();
        var sketch = new DDSketch();
        foreach (var v in values) sketch.Add(v);
        var back = DDSketch.FromBytes(sketch.ToBytes());
        Assert.Equal(values.Count, back.Count);
        Assert.True(back.BinCount <= DDSketch.MaxBins, $"{back.BinCount} bins");
        foreach (var q in new[] { 0.9, 0.99 })
        {
            var exact = values[(int)Math.Floor(q * (values.Count - 1))];
            Assert.True(Math.Abs(back.Quantile(q)!.Value - exact) <= DDSketch.RelativeAccuracy * exact, $"q={q}");
        }
    }

    /// <summary>
    /// Generated sets of values, some spanning far more than <see cref="DDSketch.MaxBins"/> bins, split in parts: the parts'
    /// sketches merged in memory or from their bytes, in any order, answer exactly like one sketch of every value.
    /// </summary>
    [Fact]
    public void Merging_parts_in_any_order_and_form_gives_the_sketch_of_the_whole()
    {
        // A value is 10^exponent with the exponent in [-5, 60]: a part can hold zeros, a narrow range or thousands of bins.
        var value = Gen.Double[-5, 60].Select(static e => e < -4 ? 0 : Math.Pow(10, e));
        var part = Gen.OneOf(value.Array[0, 40], Gen.Double[0.5, 3].Array[0, 400].Select(static a => a.Select(static e => Math.Pow(10, e)).ToArray()));
        Gen.Select(part.Array[1, 6], Gen.Bool).Sample(static sample =>
        {
            var (parts, fromBytes) = sample;
            var whole = new DDSketch();
            foreach (var v in parts.SelectMany(static p => p)) whole.Add(v);
            var merged = new DDSketch();
            foreach (var p in parts.Reverse())
            {
                var sketch = new DDSketch();
                foreach (var v in p) sketch.Add(v);
                if (fromBytes) merged.MergeBytes(sketch.ToBytes());
                else merged.Merge(sketch);
            }
            Assert.Equal(whole.Count, merged.Count);
            Assert.Equal(whole.ZeroCount, merged.ZeroCount);
            Assert.Equal(whole.BinCount, merged.BinCount);
            Assert.True(merged.BinCount <= DDSketch.MaxBins);
            foreach (var q in new[] { 0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0 }) Assert.Equal(whole.Quantile(q), merged.Quantile(q));
            var back = DDSketch.FromBytes(merged.ToBytes());
            Assert.Equal(merged.Count, back.Count);
            Assert.Equal(merged.BinCount, back.BinCount);
            foreach (var q in new[] { 0.01, 0.5, 0.99 }) Assert.Equal(merged.Quantile(q), back.Quantile(q));
        }, iter: 2000);
    }

    /// <summary>
    /// Bytes no sketch of this version writes (two bins further apart than <see cref="DDSketch.MaxBins"/>, say from a
    /// damaged row) merge into an empty sketch like added values would: the lower bin collapses, nothing throws.
    /// </summary>
    [Fact]
    public void Serialized_bins_further_apart_than_the_limit_collapse_when_merged()
    {
        var bytes = new List<byte> { 1, 0 };
        bytes.AddRange(BitConverter.GetBytes(2.0)); // sum, min, max
        bytes.AddRange(BitConverter.GetBytes(0.5));
        bytes.AddRange(BitConverter.GetBytes(1e50));
        bytes.Add(2); // two bins: index 0 (zig-zag 0), count 1; index 5,000 (delta 5,000, zig-zag 10,000), count 1
        bytes.AddRange([0, 1, 0x90, 0x4E, 1]);
        var sketch = new DDSketch();
        sketch.MergeBytes(bytes.ToArray());
        Assert.Equal(2, sketch.Count);
        Assert.Equal(2, sketch.BinCount);
        Assert.True(sketch.Quantile(0.99) > 1e20, "the upper bin is kept");
    }
}
