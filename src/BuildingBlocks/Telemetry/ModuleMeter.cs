using System.Diagnostics.Metrics;

namespace LlmMarketplace.BuildingBlocks.Telemetry;

/// <summary>
/// The one way a module declares its meter and instruments: each instrument is one declaration (meter, name, unit,
/// description) on the host's <see cref="IMeterFactory"/>, which hands every caller of a meter name the same meter and
/// disposes it with the host; and one way to record with a bounded tag.
/// </summary>
public static class ModuleMeter
{
    public static Counter<T> Counter<T>(this IMeterFactory meters, string meterName, string name, string unit, string description)
        where T : struct =>
        meters.Create(meterName).CreateCounter<T>(name, unit, description);

    /// <param name="buckets">Explicit bucket boundaries, where the exporter's defaults do not fit the range measured.</param>
    public static Histogram<T> Histogram<T>(this IMeterFactory meters, string meterName, string name, string unit, string description,
        IReadOnlyList<T>? buckets = null) where T : struct =>
        meters.Create(meterName).CreateHistogram<T>(name, unit, description, tags: null,
            advice: buckets is null ? null : new InstrumentAdvice<T> { HistogramBucketBoundaries = buckets });

    /// <summary>Adds <paramref name="delta"/> tagged with one bounded value.</summary>
    public static void Add<T>(this Counter<T> counter, T delta, string tag, object? value) where T : struct =>
        counter.Add(delta, new KeyValuePair<string, object?>(tag, value));

    /// <summary>Adds <paramref name="delta"/> tagged with two bounded values.</summary>
    public static void Add<T>(this Counter<T> counter, T delta, string tag, object? value, string otherTag, object? otherValue) where T : struct =>
        counter.Add(delta, new KeyValuePair<string, object?>(tag, value), new KeyValuePair<string, object?>(otherTag, otherValue));

    /// <summary>Records <paramref name="measurement"/> tagged with one bounded value.</summary>
    public static void Record<T>(this Histogram<T> histogram, T measurement, string tag, object? value) where T : struct =>
        histogram.Record(measurement, new KeyValuePair<string, object?>(tag, value));
}
