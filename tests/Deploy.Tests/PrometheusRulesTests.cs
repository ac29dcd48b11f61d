namespace LlmMarketplace.Deploy.Tests;

/// <summary>promtool accepts every alert rules file, and the rules cover what operators page on.</summary>
public sealed class PrometheusRulesTests
{
    [Fact]
    public async Task Promtool_accepts_the_rules_and_every_expected_alert_is_there()
    {
        var promtool = Tools.Require("promtool", "prometheus");
        var files = Directory.GetFiles(Path.Combine(Tools.RepositoryRoot, "deploy", "prometheus"), "*.rules.yaml");
        Assert.NotEmpty(files);

        var check = await Tools.RunAsync(promtool, ["check", "rules", .. files]);

        Assert.True(check.ExitCode == 0, check.Stdout + check.Stderr);
        var text = string.Concat(files.Select(File.ReadAllText));
        foreach (var alert in new[] { "HighErrorRate", "AddedLatencyHigh", "UpstreamCircuitOpen", "BudgetNearExhaustion", "UsageSpoolGrowing", "ReplicaDown" })
        {
            Assert.Contains("alert: LlmMarketplace" + alert, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Promtool_rejects_a_broken_rule()
    {
        var promtool = Tools.Require("promtool", "prometheus");
        var path = Path.Combine(Path.GetTempPath(), $"llmm-broken-{Guid.NewGuid():N}.rules.yaml");
        await File.WriteAllTextAsync(path, "groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: sum(rate(x[5m])\n");

        var check = await Tools.RunAsync(promtool, ["check", "rules", path]);

        Assert.NotEqual(0, check.ExitCode);
    }
}
