using System.Diagnostics;
using System.Globalization;
using LlmMarketplace.Catalog;
using LlmMarketplace.Catalog.Import;
using LlmMarketplace.Catalog.Listings;
using LlmMarketplace.Catalog.Search;
using LlmMarketplace.Catalog.Storage;

// Search benchmark: synthetic catalogs generated from the real OpenRouter entries (varied names, descriptions and
// prices), index build time and query latency (p50/p95/p99) for a mix of text queries with and without filters.
// Usage: dotnet run -c Release --project bench/search -- [--sizes 100000,1000000] [--queries 2000] [--data ../shared/data]

var sizes = Arg("--sizes", "100000,1000000").Split(',').Select(static s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
var queryCount = int.Parse(Arg("--queries", "2000"), CultureInfo.InvariantCulture);
var dataDir = Arg("--data", Path.Combine(FindRoot(), "..", "shared", "data"));

IReadOnlyList<ListingSpec> real;
using (var file = File.OpenRead(Path.Combine(dataDir, "openrouter-models.json")))
{
    real = CatalogImporter.Read(file).Listings;
}
Console.WriteLine($"real entries: {real.Count}; machine: {Environment.ProcessorCount} cores; available memory {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1 << 30)} GiB");
Console.WriteLine("| listings | build (s) | managed heap after build (MiB) | terms | queries | p50 (ms) | p95 (ms) | p99 (ms) | p95 text only (ms) | p95 text + filters (ms) | p95 filters only (ms) |");
Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
foreach (var size in sizes)
{
    var needed = (long)size * 6_000; // measured ~4 KB per listing at 100k, with margin
    if (needed > GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2)
    {
        Console.WriteLine($"| {size:N0} | skipped: needs about {needed >> 30} GiB, more than half the available memory | | | | | | | | | |");
        continue;
    }
    var docs = Synthetic(real, size);
    GC.Collect();
    var sw = Stopwatch.StartNew();
    var index = SearchIndex.Build(docs);
    var build = sw.Elapsed;
    docs = null;
    GC.Collect();
    var heap = GC.GetTotalMemory(forceFullCollection: true);
    var queries = Queries(queryCount);
    foreach (var q in queries.Take(50)) index.Search(q.Query); // warm up
    var all = new List<double>();
    var byKind = new Dictionary<string, List<double>>(StringComparer.Ordinal) { ["text"] = [], ["text+filters"] = [], ["filters"] = [] };
    foreach (var (kind, query) in queries)
    {
        var t = Stopwatch.GetTimestamp();
        var result = index.Search(query);
        var ms = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        GC.KeepAlive(result);
        all.Add(ms);
        byKind[kind].Add(ms);
    }
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {size:N0} | {build.TotalSeconds:0.0} | {heap / (1 << 20):N0} | {index.TermCount:N0} | {all.Count} | {P(all, 50):0.00} | {P(all, 95):0.00} | {P(all, 99):0.00} | {P(byKind["text"], 95):0.00} | {P(byKind["text+filters"], 95):0.00} | {P(byKind["filters"], 95):0.00} |"));
    index = null;
    GC.Collect();
}
return 0;

static double P(List<double> values, int percentile)
{
    if (values.Count == 0) return 0;
    var sorted = values.Order().ToList();
    return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1)];
}

string Arg(string name, string fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

static string FindRoot()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LlmMarketplace.slnx"))) dir = dir.Parent;
    return dir?.FullName ?? Directory.GetCurrentDirectory();
}

// Listings derived from the real ones: a real entry's text with a synthetic organisation, product line, size and
// generation in the name; its description with sentences recombined with another entry's; prices scaled 0.25–4×;
// context lengths and tags varied. Deterministic (seeded).
static List<SearchDocument> Synthetic(IReadOnlyList<ListingSpec> real, int count)
{
    var rng = new Random(42);
    string[] orgs = [.. Enumerable.Range(0, 3000).Select(i => Syllables(new Random(i), 2 + (i % 2)))];
    string[] lines = [.. Enumerable.Range(0, 800).Select(i => Syllables(new Random(10_000 + i), 2))];
    string[] sizes = ["1b", "3b", "7b", "8b", "13b", "24b", "32b", "70b", "120b", "405b", "mini", "nano", "pro", "max", "lite", "flash", "turbo"];
    int[] contexts = [4096, 8192, 32768, 65536, 131072, 200000, 262144, 1000000, 2000000];
    string[] regions = ["us-east", "us-west", "eu-west", "eu-central", "ap-south", "ap-northeast"];
    string[] certs = ["SOC2", "ISO27001", "HIPAA", "GDPR", "FedRAMP"];
    var sentences = real.Select(static r => (r.Description ?? "").Split(". ", StringSplitOptions.RemoveEmptyEntries)).ToArray();
    var docs = new List<SearchDocument>(count);
    for (var i = 0; i < count; i++)
    {
        var baseSpec = real[i % real.Count];
        var other = sentences[rng.Next(sentences.Length)];
        var own = sentences[i % real.Count];
        var org = orgs[rng.Next(orgs.Length)];
        var line = lines[rng.Next(lines.Length)];
        var size = sizes[rng.Next(sizes.Length)];
        var generation = $"{rng.Next(1, 6)}.{rng.Next(0, 10)}";
        var plain = (baseSpec.Name ?? "").Split(':')[^1].Trim();
        var name = $"{org}: {plain} {line} {generation} {size}";
        var description = string.Join(". ", own.Take(2).Concat(other.Skip(1).Take(2)));
        var scale = (decimal)Math.Pow(2, (rng.NextDouble() * 4) - 2);
        var tags = (baseSpec.Tags ?? []).Where(_ => rng.NextDouble() < 0.8).ToList();
        var regionList = rng.NextDouble() < 0.5 ? new[] { regions[rng.Next(regions.Length)] } : [];
        docs.Add(new SearchDocument
        {
            Id = i.ToString(CultureInfo.InvariantCulture),
            Slug = $"{org}/{line}-{generation}-{size}-{i}",
            Name = name,
            Description = description,
            Tags = tags,
            Publisher = org,
            Providers = [rng.NextDouble() < 0.5 ? "openrouter" : org + "-cloud"],
            Category = baseSpec.Category ?? "",
            Kind = baseSpec.Kind ?? "chat",
            InputModalities = baseSpec.InputModalities ?? [],
            OutputModalities = baseSpec.OutputModalities ?? [],
            InputPrice = baseSpec.Pricing?.InputPerMTok * scale,
            OutputPrice = baseSpec.Pricing?.OutputPerMTok * scale,
            ContextLength = contexts[rng.Next(contexts.Length)],
            Certifications = rng.NextDouble() < 0.3 ? [certs[rng.Next(certs.Length)]] : [],
            Regions = regionList,
            Rating = Math.Round(rng.NextDouble() * 5, 1),
            RatingCount = rng.Next(0, 200),
            Popularity = rng.NextDouble() * 1000,
            Created = 1_600_000_000 + rng.Next(0, 150_000_000),
        });
    }
    return docs;
}

static string Syllables(Random r, int n)
{
    string[] s = ["ka", "lo", "mi", "ra", "te", "zu", "no", "vi", "sa", "do", "qu", "ex", "ly", "or", "an", "el", "ti", "mo", "ne", "ba"];
    return string.Concat(Enumerable.Range(0, n).Select(_ => s[r.Next(s.Length)]));
}

// Queries: natural text queries (from the relevance set, some with typos), the same with filters, and filter-only browsing.
static List<(string Kind, SearchQuery Query)> Queries(int count)
{
    string[] texts =
    [
        "claude sonnet", "gpt-4o mini", "llama 3.3 70b", "deepseek r1", "mistral nemo", "gemini 2.5 pro", "qwen coder", "image generation",
        "roleplay", "content safety classifier", "web search with citations", "deep research", "music generation", "audio model with natural voices",
        "apply code edits", "codex", "kimi", "grok fast", "nemotron nano", "gemma 3 27b", "phi 4", "amazon nova", "claude haiku", "hermes 3",
        "antropic claude opus", "deepsek v3", "gemni flash", "mistrall large", "vision language model", "agentic coding", "cheap fast model",
        "long context reasoning", "open weights mixture of experts", "multilingual translation", "tool calling", "ocr",
    ];
    var rng = new Random(7);
    var result = new List<(string, SearchQuery)>(count);
    for (var i = 0; i < count; i++)
    {
        var text = texts[rng.Next(texts.Length)];
        var page = new SearchQuery { Limit = 20, Facets = Environment.GetEnvironmentVariable("BENCH_NO_FACETS") is null };
        switch (i % 3)
        {
            case 0:
                result.Add(("text", page with { Text = text }));
                break;
            case 1:
                result.Add(("text+filters", page with
                {
                    Text = text,
                    Modalities = rng.NextDouble() < 0.5 ? ["image"] : [],
                    MaxPrice = rng.NextDouble() < 0.7 ? (decimal)(rng.NextDouble() * 5) : null,
                    MinContext = rng.NextDouble() < 0.5 ? 128000 : null,
                    Regions = rng.NextDouble() < 0.3 ? ["eu-west"] : [],
                    Sort = rng.NextDouble() < 0.3 ? SearchSort.Price : SearchSort.Relevance,
                }));
                break;
            default:
                result.Add(("filters", page with
                {
                    Tags = rng.NextDouble() < 0.5 ? ["tool-use"] : ["vision"],
                    MaxPrice = (decimal)(rng.NextDouble() * 3),
                    Certifications = rng.NextDouble() < 0.3 ? ["SOC2"] : [],
                    Sort = rng.NextDouble() < 0.5 ? SearchSort.Price : SearchSort.Popularity,
                }));
                break;
        }
    }
    return result;
}
