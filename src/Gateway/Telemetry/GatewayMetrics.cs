using System.Diagnostics;
using System.Diagnostics.Metrics;
using LlmMarketplace.Gateway.Routing;

namespace LlmMarketplace.Gateway.Telemetry;

/// <summary>Names of the gateway's meter and activity source, for the host's exporters.</summary>
public static class GatewayMetricsNames
{
    public const string Meter = "LlmMarketplace.Gateway";
}

/// <summary>The gateway's meter, after OpenTelemetry's GenAI semantic conventions, with bounded tag values.</summary>
internal sealed class GatewayMetrics
{
    public const string MeterName = GatewayMetricsNames.Meter;
    public static readonly ActivitySource ActivitySource = new(MeterName);

    private readonly Histogram<long> _tokenUsage;
    private readonly Histogram<double> _operationDuration;
    private readonly Histogram<double> _timeToFirstChunk;
    private readonly Counter<long> _requests;
    private readonly Counter<long> _attempts;
    private readonly Counter<long> _cache;

    public GatewayMetrics(IMeterFactory meterFactory, ModelRegistry registry)
    {
        var meter = meterFactory.Create(MeterName);
        _tokenUsage = meter.CreateHistogram<long>("gen_ai.client.token.usage", "{token}", "Number of input and output tokens used.",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304] });
        _operationDuration = meter.CreateHistogram<double>("gen_ai.client.operation.duration", "s", "GenAI operation duration.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92] });
        _timeToFirstChunk = meter.CreateHistogram<double>("gen_ai.client.operation.time_to_first_chunk", "s", "Time to the first streamed chunk.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24] });
        _requests = meter.CreateCounter<long>("gateway.requests", "{request}", "Requests handled by the gateway, by outcome.");
        _attempts = meter.CreateCounter<long>("gateway.upstream.attempts", "{attempt}", "Upstream attempts, by outcome.");
        _cache = meter.CreateCounter<long>("gateway.cache.lookups", "{lookup}", "Response cache lookups, by result.");
        meter.CreateObservableGauge("gateway.circuit.state", () => Circuits(registry), "{state}",
            "Circuit state per deployment: 0 closed, 1 half-open, 2 open.");
    }

    private static IEnumerable<Measurement<int>> Circuits(ModelRegistry registry)
    {
        foreach (var health in registry.Health)
        {
            yield return new Measurement<int>((int)health.Circuit.State, new KeyValuePair<string, object?>("deployment", health.Id));
        }
    }

    public void Tokens(string operation, string provider, string model, long input, long output)
    {
        var tags = new TagList
        {
            { "gen_ai.operation.name", operation },
            { "gen_ai.provider.name", provider },
            { "gen_ai.request.model", model },
            { "gen_ai.token.type", "input" },
        };
        _tokenUsage.Record(input, tags);
        tags[3] = new KeyValuePair<string, object?>("gen_ai.token.type", "output");
        if (operation != "embeddings") _tokenUsage.Record(output, tags);
    }

    public void Duration(string operation, string? provider, string model, int status, double seconds)
    {
        var tags = new TagList
        {
            { "gen_ai.operation.name", operation },
            { "gen_ai.provider.name", provider ?? "none" },
            { "gen_ai.request.model", model },
        };
        if (status >= 400) tags.Add("error.type", status.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _operationDuration.Record(seconds, tags);
        _requests.Add(1, new TagList { { "gen_ai.operation.name", operation }, { "http.response.status_code", StatusTag(status) } });
    }

    // HTTP statuses boxed once, not once per request.
    private static readonly object[] Statuses = [.. Enumerable.Range(0, 600).Select(static s => (object)s)];

    private static object StatusTag(int status) => (uint)status < (uint)Statuses.Length ? Statuses[status] : status;

    public void FirstChunk(string provider, string model, double seconds) =>
        _timeToFirstChunk.Record(seconds, new TagList { { "gen_ai.provider.name", provider }, { "gen_ai.request.model", model } });

    public void Attempt(string deployment, string outcome) =>
        _attempts.Add(1, new TagList { { "deployment", deployment }, { "outcome", outcome } });

    public void Cache(string result) => _cache.Add(1, new KeyValuePair<string, object?>("result", result));
}
