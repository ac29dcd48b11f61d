using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(LlmMarketplace.Governance.Benchmarks.PolicyEvaluationBenchmarks).Assembly).Run(args);
