using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Governance.Policies;

namespace LlmMarketplace.Governance.Benchmarks;

/// <summary>
/// The policy decision made on every gateway call, from the compiled snapshot: a realistic load of 20 global and
/// 500 team policies (model allow/deny lists with patterns, residency, classification), a caller in two teams and a
/// model with four deployments. The target is p99 ≤ 0.1 ms per decision.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(PercentileConfig))]
public class PolicyEvaluationBenchmarks
{
    private PolicySnapshot _snapshot = null!;
    private PolicySnapshot _empty = null!;
    private PolicyRequest _request = null!;
    private PolicyRequest _denied = null!;
    private DeploymentConfig[] _deployments = null!;

    private sealed class PercentileConfig : ManualConfig
    {
        public PercentileConfig()
        {
            AddColumn(StatisticColumn.P95, StatisticColumn.Max);
            // In process: the benchmark measures a pure function, and the shared build machine saves a rebuild.
            AddJob(Job.Default.WithIterationCount(30).WithWarmupCount(5).WithToolchain(BenchmarkDotNet.Toolchains.InProcess.Emit.InProcessEmitToolchain.Instance));
        }
    }

    [GlobalSetup]
    public void Setup()
    {
        var policies = new List<CompiledPolicy>();
        for (var i = 0; i < 20; i++)
        {
            policies.Add(Compile("""{"name":"global-#","scope":"global","rules":{"models":{"deny":["legacy-#-*","gpt-3.5-turbo-#"]},"providers":{"deny":["banned-#"]},"pii":"redact"}}""".Replace("#", i.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)));
        }
        for (var t = 0; t < 500; t++)
        {
            policies.Add(Compile("""{"name":"team-#","scope":"team","team":"team-#","rules":{"models":{"allow":["gpt-4o*","claude-*","mistral-#"]},"regions":{"allow":["eu-west-1","eu-central-1"]},"maxClassification":"confidential","budget":{"maxUsd":100}}}""".Replace("#", t.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)));
        }
        _snapshot = new PolicySnapshot(policies);
        _empty = new PolicySnapshot([]);
        _deployments =
        [
            new("us/gpt-4o-mini", "us", "gpt-4o-mini", Pricing.Free, 1, "us-east-1"),
            new("eu/gpt-4o-mini", "eu", "gpt-4o-mini", Pricing.Free, 1, "eu-west-1"),
            new("de/gpt-4o-mini", "de", "gpt-4o-mini", Pricing.Free, 1, "eu-central-1"),
            new("ap/gpt-4o-mini", "ap", "gpt-4o-mini", Pricing.Free, 1, "ap-south-1"),
        ];
        _request = new PolicyRequest("gpt-4o-mini", ["team-17", "team-342"], "app-1", "internal");
        _denied = new PolicyRequest("legacy-7-foo", ["team-17"], null, "internal");
    }

    private static CompiledPolicy Compile(string json)
    {
        var errors = new ValidationErrors();
        var doc = PolicyDocumentParser.Validate(PolicyDocumentParser.ReadText(json, errors), errors) ?? throw new InvalidOperationException(errors.ToString());
        return new CompiledPolicy(doc.Name, 1, doc);
    }

    [Benchmark(Baseline = true, Description = "no policies")]
    public PolicyDecision NoPolicies() => _empty.Evaluate(_request, _deployments, 1);

    [Benchmark(Description = "allowed, residency narrows 4 deployments to 2")]
    public PolicyDecision AllowedWithResidency() => _snapshot.Evaluate(_request, _deployments, 1);

    [Benchmark(Description = "denied model")]
    public PolicyDecision DeniedModel() => _snapshot.Evaluate(_denied, _deployments, 1);
}
