using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.RegularExpressions;
using LlmMarketplace.Gateway.Tests.Infrastructure;
using LlmMarketplace.Insights.Tests.Infrastructure;

namespace LlmMarketplace.Insights.Tests.Telemetry;

/// <summary>The Grafana dashboard in the repository only queries metrics the product exposes.</summary>
public sealed partial class DashboardTests
{
    [GeneratedRegex(@"\b(?:marketplace|gen_ai|gateway)_[a-z_]+")]
    private static partial Regex MetricName();

    [Fact]
    public async Task Every_metric_the_dashboard_queries_is_published_by_the_host()
    {
        await using var upstream = await InsightsKit.UpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"));
        // One call, so that every module's instruments exist.
        await InsightsKit.ChatAsync(host.Client);
        var published = new HashSet<string>(StringComparer.Ordinal);
        using (var listener = new MeterListener())
        {
            listener.InstrumentPublished = (instrument, _) =>
            {
                if (!instrument.Meter.Name.StartsWith("LlmMarketplace", StringComparison.Ordinal)) return;
                var name = instrument.Name.Replace('.', '_');
                if (instrument.Unit == "s") name += "_seconds";
                var isCounter = instrument.GetType().Name.StartsWith("Counter", StringComparison.Ordinal);
                lock (published)
                {
                    published.Add(isCounter ? name + "_total" : name);
                    if (instrument.GetType().Name.StartsWith("Histogram", StringComparison.Ordinal)) published.Add(name + "_bucket");
                }
            };
            listener.Start();
        }

        var path = Path.Combine(TestPaths.RepositoryRoot, "deploy", "grafana", "llm-marketplace.json");
        using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(path));
        var queried = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .Where(static p => p.TryGetProperty("targets", out _))
            .SelectMany(static p => p.GetProperty("targets").EnumerateArray())
            .SelectMany(t => MetricName().Matches(t.GetProperty("expr").GetString()!).Select(static m => m.Value))
            .Where(static n => !n.StartsWith("gen_ai_request", StringComparison.Ordinal) && !n.StartsWith("gen_ai_token", StringComparison.Ordinal))
            .ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(queried);
        var missing = queried.Where(q => !published.Contains(q)).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, "Queried but not published: " + string.Join(", ", missing) + ". Published: " + string.Join(", ", published.Order(StringComparer.Ordinal)));
    }
}
