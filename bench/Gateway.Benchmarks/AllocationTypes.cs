using System.Diagnostics.Tracing;
using System.Globalization;

namespace LlmMarketplace.Gateway.Benchmarks;

/// <summary>
/// Where the bytes go: runs one path of <see cref="ChatAllocationBenchmarks"/> many times while listening to the
/// runtime's sampled allocation events (one about every 100 KB allocated, with the type that crossed the mark), and
/// prints the types that took the most samples. Sampling makes the shares approximate; the benchmark is the judge.
/// </summary>
internal static class AllocationTypes
{
    /// <param name="requests">Bursts of <see cref="ChatAllocationBenchmarks.Concurrency"/> requests each.</param>
    public static async Task RunAsync(string path, bool stream, int requests)
    {
        var bench = new ChatAllocationBenchmarks { Stream = stream };
        await bench.SetupAsync();
        Func<Task> call = path switch
        {
            "direct" => bench.DirectAsync,
            "master" => bench.MasterKeyAsync,
            "apikey" => bench.ApiKeyAsync,
            _ => throw new ArgumentException("path must be direct, master or apikey", nameof(path)),
        };
        for (var i = 0; i < 10; i++) await call();
        using var listener = new AllocationListener();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < requests; i++) await call();
        var total = GC.GetTotalAllocatedBytes(precise: true) - before;
        listener.Dispose();
        await bench.CleanupAsync();
        var count = (long)requests * ChatAllocationBenchmarks.Concurrency;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{path} stream={stream}: {total / count:N0} bytes per request over {count} requests; sampled types:"));
        var samples = listener.Samples.OrderByDescending(static p => p.Value).Take(30).ToList();
        var all = listener.Samples.Values.Sum();
        foreach (var (type, bytes) in samples)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {100.0 * bytes / Math.Max(1, all),5:0.0}%  {type}"));
        }
    }

    private sealed class AllocationListener : EventListener
    {
        private const EventKeywords GcKeyword = (EventKeywords)0x1;

        public Dictionary<string, long> Samples { get; } = new(StringComparer.Ordinal);

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (eventData.EventName is not { } name || !name.StartsWith("GCAllocationTick", StringComparison.Ordinal) || eventData.Payload is null) return;
            var typeIndex = eventData.PayloadNames!.IndexOf("TypeName");
            var amountIndex = eventData.PayloadNames.IndexOf("AllocationAmount64");
            if (typeIndex < 0) return;
            var type = eventData.Payload[typeIndex] as string ?? "?";
            var amount = amountIndex >= 0 ? Convert.ToInt64(eventData.Payload[amountIndex], CultureInfo.InvariantCulture) : 100_000;
            lock (Samples) Samples[type] = Samples.GetValueOrDefault(type) + amount;
        }
    }
}
