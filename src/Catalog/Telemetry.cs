using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace LlmMarketplace.Catalog;

/// <summary>The catalog's meter: search latency, lifecycle transitions and imported listings.</summary>
internal sealed class CatalogMetrics
{
    public const string MeterName = "LlmMarketplace.Catalog";

    private readonly Histogram<double> _searchDuration;
    private readonly Counter<long> _transitions;
    private readonly Counter<long> _imported;

    public CatalogMetrics(IMeterFactory factory)
    {
        var meter = factory.Create(MeterName);
        _searchDuration = meter.CreateHistogram<double>("llmm.catalog.search.duration", "s", "Time to answer a catalog search.");
        _transitions = meter.CreateCounter<long>("llmm.catalog.version.transitions", "{transition}", "Lifecycle transitions of listing versions.");
        _imported = meter.CreateCounter<long>("llmm.catalog.import.listings", "{listing}", "Listings created or updated by imports.");
    }

    public void Searched(string operation, TimeSpan elapsed) => _searchDuration.Record(elapsed.TotalSeconds, new TagList { { "operation", operation } });

    public void Transition(string to) => _transitions.Add(1, new TagList { { "state", to } });

    public void Imported(string format, int count) => _imported.Add(count, new TagList { { "format", format } });
}
