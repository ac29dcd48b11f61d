using BenchmarkDotNet.Running;
using LlmMarketplace.Gateway.Benchmarks;

// --allocation-types PATH [stream] [BURSTS]: which types a path allocates (PATH: direct, master, apikey).
if (args is ["--allocation-types", var path, ..])
{
    var stream = args.Contains("stream");
    var requests = args.Length > 2 && int.TryParse(args[^1], out var n) ? n : 100;
    await AllocationTypes.RunAsync(path, stream, requests);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(ChatAllocationBenchmarks).Assembly).Run(args);
