using System.Diagnostics.Metrics;
using LlmMarketplace.BuildingBlocks.Telemetry;

namespace LlmMarketplace.Catalog;

/// <summary>The catalog's meter: search latency, lifecycle transitions and imported listings.</summary>
internal sealed class CatalogMetrics(IMeterFactory factory)
{
    public const string MeterName = "LlmMarketplace.Catalog";

    private readonly Histogram<double> _searchDuration = factory.Histogram<double>(MeterName, "llmm.catalog.search.duration", "s", "Time to answer a catalog search.");
    private readonly Counter<long> _transitions = factory.Counter<long>(MeterName, "llmm.catalog.version.transitions", "{transition}",
        "Lifecycle transitions of listing versions.");
    private readonly Counter<long> _imported = factory.Counter<long>(MeterName, "llmm.catalog.import.listings", "{listing}", "Listings created or updated by imports.");

    public void Searched(string operation, TimeSpan elapsed) => _searchDuration.Record(elapsed.TotalSeconds, "operation", operation);

    public void Transition(string to) => _transitions.Add(1, "state", to);

    public void Imported(string format, int count) => _imported.Add(count, "format", format);
}
