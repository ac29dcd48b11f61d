using System.Diagnostics.Metrics;
using System.Text.RegularExpressions;

namespace LlmMarketplace.Insights.Tests.Telemetry;

/// <summary>
/// The Grafana dashboards and the Prometheus alert rules in the repository only query metrics the product exposes, with
/// the labels it gives them.
/// </summary>
public sealed partial class DashboardTests
{
    [GeneratedRegex(@"\b(?:marketplace|gen_ai|gateway|llmm|shield|dotnet|kestrel|http_server)_[a-z_]+")]
    private static partial Regex MetricName();

    /// <summary>A PromQL aggregation's grouping (<c>by (a, b)</c>) or a label matcher (<c>{a="x"}</c>, <c>a=~"x"</c>).</summary>
    [GeneratedRegex(@"\bby\s*\(([a-z_,\s]+)\)|[{,]\s*([a-z_]+)\s*(?:=~|!=|!~|=)")]
    private static partial Regex LabelUse();

    /// <summary>One exported series: <c>name{label="value",…} value</c>.</summary>
    [GeneratedRegex(@"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s")]
    private static partial Regex Series();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""")]
    private static partial Regex SeriesLabel();

    /// <summary>Labels Prometheus adds or that PromQL itself defines.</summary>
    private static readonly HashSet<string> PrometheusLabels = new(StringComparer.Ordinal) { "job", "instance", "le", "quantile" };

    [Fact]
    public async Task Every_metric_and_label_the_dashboards_and_alert_rules_query_is_exported_by_the_host()
    {
        await using var upstream = await InsightsKit.UpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"));
        // A chat call and a shield scan, so that the gateway's, the shield's and the runtime's series are exported.
        Assert.Equal(HttpStatusCode.OK, await InsightsKit.ChatAsync(host.Client));
        using (var scan = await host.Client.PostAsync("api/v1/shield/scan", JsonContent("""{"text":"mail me at someone@example.com"}""")))
        {
            Assert.Equal(HttpStatusCode.OK, scan.StatusCode);
        }

        // Every instrument the product created by now (the listener is told of existing ones when it starts).
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

        var exported = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        await Wait.UntilAsync(async () =>
        {
            exported = ParseExposition(await host.Client.GetStringAsync("metrics"));
            return exported.ContainsKey("shield_findings_total") && exported.ContainsKey("gateway_requests_total");
        }, TimeSpan.FromSeconds(20), "the chat call and the scan in /metrics");

        var problems = new List<string>();
        var queried = 0;
        foreach (var (source, expr) in Queries())
        {
            // Label names look like metric names: take them out before reading the metrics.
            var names = MetricName().Matches(LabelUse().Replace(Unquoted(expr), " "))
                .Select(static m => m.Value).ToHashSet(StringComparer.Ordinal);
            queried += names.Count;
            foreach (var name in names.Where(n => !exported.ContainsKey(n) && !published.Contains(n) && !DeclaredInSource(n)))
            {
                problems.Add($"{source}: {name} is neither exported, nor an instrument of the product, nor declared in its source");
            }

            // Labels are checked against the series the host exported in this test.
            var seen = names.Where(exported.ContainsKey).ToList();
            if (seen.Count == 0) continue;
            var labels = seen.SelectMany(n => exported[n]).ToHashSet(StringComparer.Ordinal);
            foreach (var label in LabelsUsed(expr).Where(l => !PrometheusLabels.Contains(l) && !labels.Contains(l)))
            {
                problems.Add($"{source}: label '{label}' is not on {string.Join(" or ", seen)} (it has {string.Join(", ", labels.Order(StringComparer.Ordinal))})");
            }
        }

        Assert.True(queried > 40, $"only {queried} metric references found: the files were not read");
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    /// <summary>Every PromQL expression of every dashboard in deploy/grafana and every rule file in deploy/prometheus.</summary>
    private static IEnumerable<(string Source, string Expr)> Queries()
    {
        var grafana = Directory.GetFiles(Path.Combine(TestPaths.RepositoryRoot, "deploy", "grafana"), "*.json");
        Assert.True(grafana.Length >= 4, "the main, shield, optimizer and infrastructure dashboards");
        foreach (var path in grafana)
        {
            using var dashboard = JsonDocument.Parse(File.ReadAllText(path));
            var exprs = dashboard.RootElement.GetProperty("panels").EnumerateArray()
                .Where(static p => p.TryGetProperty("targets", out _))
                .SelectMany(static p => p.GetProperty("targets").EnumerateArray())
                .Select(static t => t.GetProperty("expr").GetString()!)
                .ToList();
            Assert.NotEmpty(exprs);
            foreach (var expr in exprs) yield return (Path.GetFileName(path), expr);
        }

        foreach (var path in Directory.GetFiles(Path.Combine(TestPaths.RepositoryRoot, "deploy", "prometheus"), "*.yaml"))
        {
            // An alert's expression runs from `expr:` to the next key of the rule (`for:`, `labels:`, `annotations:`).
            foreach (Match m in Regex.Matches(File.ReadAllText(path), @"expr:\s*\|?\s*(.+?)\n\s*(?:for|labels|annotations):", RegexOptions.Singleline))
            {
                yield return (Path.GetFileName(path), m.Groups[1].Value);
            }
        }
    }

    private static IEnumerable<string> LabelsUsed(string expr)
    {
        foreach (Match m in LabelUse().Matches(Unquoted(expr)))
        {
            if (m.Groups[1].Success)
            {
                foreach (var label in m.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)) yield return label;
            }
            else
            {
                yield return m.Groups[2].Value;
            }
        }
    }

    /// <summary>Label values are quoted: drop them so that <c>"a,b"</c> is not read as labels.</summary>
    private static string Unquoted(string expr) => Regex.Replace(expr, "\"[^\"]*\"", "\"\"");

    private static readonly Lazy<string> Source = new(static () => string.Join('\n',
        Directory.EnumerateFiles(Path.Combine(TestPaths.RepositoryRoot, "src"), "*.cs", SearchOption.AllDirectories).Select(File.ReadAllText)));

    /// <summary>
    /// Instruments that exist only in some configurations (for example the shared state's, with Redis) are not created by
    /// this test's host: their dotted name must be declared in a meter of the product (all exported by one pattern).
    /// </summary>
    private static bool DeclaredInSource(string metric)
    {
        var name = metric;
        foreach (var suffix in new[] { "_bucket", "_count", "_sum", "_total", "_seconds" })
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal)) name = name[..^suffix.Length];
        }

        // Dots and underscores both become underscores in Prometheus: accept any instrument name that maps to it.
        var pattern = "\"" + string.Join("[._]", name.Split('_').Select(Regex.Escape)) + "\"";
        return Regex.IsMatch(Source.Value, pattern);
    }

    /// <summary>Metric name to the label names seen on its series, from Prometheus's text exposition format.</summary>
    private static Dictionary<string, HashSet<string>> ParseExposition(string text)
    {
        var series = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var m = Series().Match(line);
            if (!m.Success) continue;
            if (!series.TryGetValue(m.Groups[1].Value, out var labels)) series[m.Groups[1].Value] = labels = new HashSet<string>(StringComparer.Ordinal);
            foreach (Match l in SeriesLabel().Matches(m.Groups[2].Value)) labels.Add(l.Groups[1].Value);
        }

        return series;
    }

    private static StringContent JsonContent(string json) => new(json, System.Text.Encoding.UTF8, "application/json");
}
