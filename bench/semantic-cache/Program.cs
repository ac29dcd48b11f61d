using System.Diagnostics;
using System.Globalization;
using System.Text;
using LlmMarketplace.BuildingBlocks.Embeddings;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Gateway.Caching;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.SemanticCacheBench;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

// The semantic cache's measurement: precision and hit rate on the paraphrase set (paraphrases.json, written for this
// project) at several thresholds, with and without the guard; the in-process embedding model's latency per call and
// per batch and its memory; the cache's inline cost on a miss and on a hit. Writes bench/results/semantic-cache.md.
//   dotnet run -c Release --project bench/semantic-cache [-- --rounds N] [--redis HOST:PORT]
//   ... -- similarity    cosine similarity of "a | b" lines read from standard input
if (args.Length > 0 && args[0] == "similarity")
{
    // Reads "text a | text b" lines from standard input and prints their cosine similarity (for choosing thresholds).
    var encoder = LocalEmbeddingModel.Get(LocalEmbeddingModel.MiniLmL6V2);
    while (Console.ReadLine() is { } line)
    {
        var parts = line.Split('|', 2, StringSplitOptions.TrimEntries);
        if (parts.Length != 2) continue;
        var v = await encoder.EmbedAsync([parts[0].Replace("\\n", "\n", StringComparison.Ordinal), parts[1].Replace("\\n", "\n", StringComparison.Ordinal)], CancellationToken.None);
        Console.WriteLine($"{ISemanticStore.Dot(v[0], v[1]):0.000}  {line}");
    }
    return 0;
}
var root = RepositoryRoot();
var rounds = int.TryParse(Option(args, "--rounds"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var r) ? r : 300;
var set = Path.Combine(root, "bench", "semantic-cache", "paraphrases.json");
var culture = CultureInfo.InvariantCulture;

var loadAverage = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
var rssBefore = Rss();
var model = LocalEmbeddingModel.Get(LocalEmbeddingModel.MiniLmL6V2);
var loadWatch = Stopwatch.StartNew();
await model.EmbedAsync(["warm up"], CancellationToken.None);
var loadTime = loadWatch.Elapsed;
var rssLoaded = Rss();

var evaluation = await ParaphraseEvaluation.CreateAsync(set);
var items = evaluation.Items;
var thresholds = new[] { 0.85, 0.88, 0.90, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97 };
var guarded = new List<ParaphraseScore>();
var unguarded = new List<ParaphraseScore>();
foreach (var t in thresholds)
{
    guarded.Add(await evaluation.ScoreAsync(t));
    unguarded.Add(await evaluation.ScoreAsync(t, guarded: false));
    Console.WriteLine($"threshold {t:0.00}: precision {guarded[^1].Precision:P1} hit rate {guarded[^1].HitRate:P1} | without guard {unguarded[^1].Precision:P1} {unguarded[^1].HitRate:P1}");
}

// Embedding latency: one call of 1, 8 and 32 inputs (single thread of the caller; the model runs up to its batch slots side by side).
var questions = items.SelectMany(static i => new[] { i.Question }.Concat(i.Paraphrases).Concat(i.Decoys)).ToList();
var batches = new Dictionary<int, (double P50, double P99)>();
foreach (var size in new[] { 1, 8, 32 })
{
    var times = new List<double>();
    for (var i = 0; i < Math.Max(20, rounds / size * 4); i++)
    {
        var inputs = Enumerable.Range(0, size).Select(k => questions[(i * size + k) % questions.Count]).ToList();
        var w = Stopwatch.StartNew();
        await model.EmbedAsync(inputs, CancellationToken.None);
        times.Add(w.Elapsed.TotalMilliseconds);
    }
    batches[size] = (Percentile(times, 0.5), Percentile(times, 0.99));
    Console.WriteLine($"batch {size}: p50 {batches[size].P50:0.00} ms, p99 {batches[size].P99:0.00} ms");
}

// The cache inline: a registry with a local embedding model, the in-process store holding the set's base questions.
var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
{
    ["Providers:0:Name"] = "builtin",
    ["Providers:0:Type"] = "local",
    ["Models:0:Name"] = "minilm",
    ["Models:0:Kind"] = "embedding",
    ["Models:0:Deployments:0:Provider"] = "builtin",
    ["Models:0:Deployments:0:Model"] = LocalEmbeddingModel.MiniLmL6V2,
    ["Gateway:Cache:Enabled"] = "true",
    ["Gateway:Cache:Semantic:Enabled"] = "true",
    ["Gateway:Cache:Semantic:EmbeddingModel"] = "minilm",
}).Build();
var errors = new ValidationErrors();
var config = GatewayConfigReader.Read(configuration, errors);
if (!errors.IsEmpty) throw new InvalidOperationException(string.Join("; ", errors.ToDictionary().Select(static e => $"{e.Key}: {string.Join(", ", e.Value)}")));
using var registry = new ModelRegistry(TimeProvider.System);
registry.Apply(config);
var store = new LocalSemanticStore(registry);
var cache = new SemanticCache(registry, store, TimeProvider.System);
var threshold = config.Settings.Cache.Semantic.Threshold;
SemanticLookup LookupOf(string question)
{
    var prompt = ParaphraseEvaluation.Prompt(question);
    return new SemanticLookup("m", "team", SemanticCache.BucketOf("chat", "m", false, false, "", "team", "", prompt), prompt, threshold);
}
foreach (var item in items)
{
    var lookup = LookupOf(item.Question);
    await cache.LookupAsync(lookup, CancellationToken.None);
    await store.AddAsync(lookup, lookup.Vector!, new CachedResponse(new byte[512], false, "p", "d", default(TokenUsage), DateTimeOffset.UtcNow.AddHours(1)), DateTimeOffset.UtcNow);
}
var hitProbes = items.SelectMany(static i => i.Paraphrases).Where(p => cache.LookupAsync(LookupOf(p), CancellationToken.None).AsTask().Result is not null).ToList();
var missProbes = items.SelectMany(static i => i.Decoys).ToList();
List<double> Measure(List<string> probes, bool expectHit)
{
    var times = new List<double>();
    for (var i = 0; i < rounds; i++)
    {
        var probe = probes[i % probes.Count];
        var w = Stopwatch.StartNew();
        var lookup = LookupOf(probe);
        var hit = cache.LookupAsync(lookup, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        times.Add(w.Elapsed.TotalMilliseconds);
        if (expectHit && hit is null) throw new InvalidOperationException($"expected a hit for '{probe}'");
    }
    return times;
}
var missTimes = Measure(missProbes, false);
var hitTimes = Measure(hitProbes, true);
var exact = new ResponseCache(TimeProvider.System);
var exactTimes = new List<double>();
using (var doc = System.Text.Json.JsonDocument.Parse("""{"model":"m","messages":[{"role":"user","content":"What is the capital of France?"}]}"""))
{
    // The first 1,000 warm the JIT and are not counted.
    for (var i = 0; i < rounds + 1000; i++)
    {
        var w = Stopwatch.StartNew();
        var key = CacheKey.Compute("chat", "m", doc.RootElement, false, false, "", "team");
        exact.TryGet(key, out _);
        if (i >= 1000) exactTimes.Add(w.Elapsed.TotalMilliseconds);
    }
}
// The same lookups against Redis (the distributed store), when --redis HOST:PORT names one.
List<double>? redisMiss = null, redisHit = null;
if (Option(args, "--redis") is { } redisAddress)
{
    using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    var meters = services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
    await using var redis = new LlmMarketplace.BuildingBlocks.Distributed.RedisConnection(
        new LlmMarketplace.BuildingBlocks.Distributed.RedisOptions { Configuration = redisAddress, KeyPrefix = "bench" + Guid.NewGuid().ToString("N")[..8] + ":" },
        Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
    var distributedMetrics = new LlmMarketplace.BuildingBlocks.Distributed.Telemetry.DistributedMetrics(meters);
    var sharedStore = new SharedSemanticStore(redis, new SharedResponseCache(redis, distributedMetrics), registry, distributedMetrics);
    var sharedCache = new SemanticCache(registry, sharedStore, TimeProvider.System);
    foreach (var item in items)
    {
        var lookup = LookupOf(item.Question);
        await sharedCache.LookupAsync(lookup, CancellationToken.None);
        await sharedStore.AddAsync(lookup, lookup.Vector!, new CachedResponse(new byte[512], false, "p", "d", default(TokenUsage), DateTimeOffset.UtcNow.AddHours(1)), DateTimeOffset.UtcNow);
    }
    List<double> MeasureShared(List<string> probes)
    {
        var times = new List<double>();
        for (var i = 0; i < rounds; i++)
        {
            var w = Stopwatch.StartNew();
            sharedCache.LookupAsync(LookupOf(probes[i % probes.Count]), CancellationToken.None).AsTask().GetAwaiter().GetResult();
            times.Add(w.Elapsed.TotalMilliseconds);
        }
        return times;
    }
    redisMiss = MeasureShared(missProbes);
    redisHit = MeasureShared(hitProbes);
    await sharedStore.RemoveAsync(null, null, null);
}
var rssEnd = Rss();

var md = new StringBuilder();
md.AppendLine("# Semantic cache: precision, hit rate, inline cost; the in-process embedding model");
md.AppendLine();
md.AppendLine($"Regenerate with `dotnet run -c Release --project bench/semantic-cache` ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, .NET {Environment.Version}, {rounds} rounds; load average at the start {loadAverage}: the latencies below are as loaded as the machine was).");
md.AppendLine();
md.AppendLine($"Data: `bench/semantic-cache/paraphrases.json`, written for this project: {items.Count} everyday and programming questions, each with {items[0].Paraphrases.Count} paraphrases (the same question asked differently) and {items[0].Decoys.Count} near-miss decoys (another number, name, quoted string or identifier, a negation, or a neighbouring question on the same subject). " +
    "Every base question is cached (one team, one-message chat requests), then every paraphrase and decoy is looked up through the cache's own prompt extraction, guard, buckets and in-process store, with all-MiniLM-L6-v2 embeddings.");
md.AppendLine();
md.AppendLine("- **precision**: answers served from the cache that answer the question asked (a decoy served, or a paraphrase served another question's answer, is wrong);");
md.AppendLine("- **hit rate**: paraphrases served their own question's answer.");
md.AppendLine();
md.AppendLine("| threshold | precision | hit rate | decoys served | precision without the guard | hit rate without the guard | decoys served without the guard |");
md.AppendLine("| --- | --- | --- | --- | --- | --- | --- |");
for (var i = 0; i < thresholds.Length; i++)
{
    var g = guarded[i];
    var u = unguarded[i];
    var mark = Math.Abs(g.Threshold - threshold) < 1e-9 ? " (default)" : "";
    md.AppendLine(culture, $"| {g.Threshold:0.00}{mark} | {g.Precision:P1} ({g.ServedRight}/{g.Served}) | {g.HitRate:P1} ({g.ParaphraseHits}/{g.Paraphrases}) | {g.DecoysServed}/{g.Decoys} | {u.Precision:P1} ({u.ServedRight}/{u.Served}) | {u.HitRate:P1} ({u.ParaphraseHits}/{u.Paraphrases}) | {u.DecoysServed}/{u.Decoys} |");
}
md.AppendLine();
var closest = items.SelectMany(i => i.Decoys.Select(d => (Item: i, Decoy: d, Similarity: evaluation.Similarity(i.Question, d))))
    .OrderByDescending(static x => x.Similarity).Take(8).ToList();
md.AppendLine("Decoys closest to their base question (the guard refuses those that differ in a number, name, quote, identifier or negation; the threshold must refuse the rest):");
md.AppendLine();
md.AppendLine("| similarity | base question | decoy | guard differs |");
md.AppendLine("| --- | --- | --- | --- |");
foreach (var (item, decoy, similarity) in closest)
{
    var differs = ParaphraseEvaluation.Prompt(item.Question).Guard != ParaphraseEvaluation.Prompt(decoy).Guard;
    md.AppendLine(culture, $"| {similarity:0.000} | {item.Question} | {decoy} | {(differs ? "yes" : "no")} |");
}
md.AppendLine();
md.AppendLine("## The in-process embedding model (all-MiniLM-L6-v2, ONNX Runtime, one thread per batch)");
md.AppendLine();
md.AppendLine("| inputs per call | p50 | p99 |");
md.AppendLine("| --- | --- | --- |");
foreach (var (size, (p50, p99)) in batches) md.AppendLine(culture, $"| {size} | {p50:0.00} ms | {p99:0.00} ms |");
md.AppendLine();
md.AppendLine(culture, $"Memory: resident set {rssBefore / 1048576.0:0} MiB before the model loads, {rssLoaded / 1048576.0:0} MiB once loaded and warm (+{(rssLoaded - rssBefore) / 1048576.0:0} MiB), {rssEnd / 1048576.0:0} MiB at the end of the run. First load and first call: {loadTime.TotalSeconds:0.00} s.");
md.AppendLine();
md.AppendLine("## Inline cost of the cache");
md.AppendLine();
md.AppendLine($"Lookup of one question against a store of {items.Count} cached questions, in process (prompt extraction, guard, bucket, one embedding of the last user message through the `local` deployment's handler, cosine scan of the bucket). A miss then stores the answer under the same embedding, so the miss cost is the whole added latency of a call that goes upstream.");
md.AppendLine();
md.AppendLine("| lookup | p50 | p99 |");
md.AppendLine("| --- | --- | --- |");
md.AppendLine(culture, $"| exact cache (key hash and lookup), for comparison | {Percentile(exactTimes, 0.5):0.000} ms | {Percentile(exactTimes, 0.99):0.000} ms |");
md.AppendLine(culture, $"| semantic, miss (decoys) | {Percentile(missTimes, 0.5):0.00} ms | {Percentile(missTimes, 0.99):0.00} ms |");
md.AppendLine(culture, $"| semantic, hit (paraphrases) | {Percentile(hitTimes, 0.5):0.00} ms | {Percentile(hitTimes, 0.99):0.00} ms |");
if (redisMiss is not null && redisHit is not null)
{
    md.AppendLine(culture, $"| semantic on Redis (distributed), miss | {Percentile(redisMiss, 0.5):0.00} ms | {Percentile(redisMiss, 0.99):0.00} ms |");
    md.AppendLine(culture, $"| semantic on Redis (distributed), hit | {Percentile(redisHit, 0.5):0.00} ms | {Percentile(redisHit, 0.99):0.00} ms |");
}
md.AppendLine();
md.AppendLine("In distributed mode the lookup adds one Redis round trip (the bucket's vectors) and, on a hit, a second (the answer); Redis here is on loopback.");
var output = Path.Combine(root, "bench", "results", "semantic-cache.md");
await File.WriteAllTextAsync(output, md.ToString());
Console.WriteLine($"wrote {output}");
return 0;

static double Percentile(List<double> values, double p)
{
    var sorted = values.Order().ToList();
    return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}

static long Rss()
{
    foreach (var line in File.ReadLines("/proc/self/status"))
    {
        if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
    return Environment.WorkingSet;
}

static string? Option(string[] args, string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

static string RepositoryRoot()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LlmMarketplace.slnx"))) dir = dir.Parent;
    return dir?.FullName ?? throw new InvalidOperationException("Run from inside the repository (LlmMarketplace.slnx not found).");
}
