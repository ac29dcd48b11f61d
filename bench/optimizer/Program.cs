using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using LlmMarketplace.Bench.Optimizer;
using LlmMarketplace.Host.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

// The auto-router on RouteLLM's GSM8K and MMLU correctness data: a replay upstream answers each prompt with the
// recorded answer of the model asked, the gateway routes every prompt once (random order), the driver sends the
// correctness back as feedback, and the figures are set against always-strong, always-weak and a random router.
var options = BenchOptions.Parse(args);
Trace.Enabled = options.Trace;
var root = FindRepositoryRoot();
var data = Path.GetFullPath(Path.Combine(root, "..", "shared", "data"));
var routellm = Path.Combine(data, "routellm");
var prices = Prices.Load(data);

var gsm8k = Dataset.Load([Path.Combine(routellm, "gsm8k_dev.csv")], Path.Combine(routellm, "gsm8k_contaminated_prompts.jsonl"));
var mmluAll = Dataset.Load(Directory.GetFiles(Path.Combine(routellm, "mmlu"), "*.csv").Order(StringComparer.Ordinal), Path.Combine(routellm, "mmlu_contaminated_prompts.jsonl"));
var mmlu = options.MmluSample >= mmluAll.Count ? mmluAll : mmluAll.Shuffled(new Random(options.Seed)).Take(options.MmluSample).ToList();
Console.WriteLine($"GSM8K: {gsm8k.Count} prompts; MMLU: {mmlu.Count} of {mmluAll.Count} prompts");

await using var replay = await ReplayUpstream.StartAsync(gsm8k.Concat(mmlu));
var dataDirectory = Path.Combine(Path.GetTempPath(), "llmm-bench-optimizer-" + Guid.NewGuid().ToString("N"));
Directory.CreateDirectory(dataDirectory);
var configFile = Path.Combine(dataDirectory, "config.yaml");
// GSM8K has the models' answer text, so the router can cascade (check the weak answer, escalate when it fails) and is
// measured that way and by prediction alone; MMLU has no answer text to check, so only prediction applies.
var datasets = new (string Name, List<Item> Items, Mode[] Modes)[] { ("gsm8k", gsm8k, [Mode.Cascade, Mode.Predict]), ("mmlu", mmlu, [Mode.Predict]) };
// The cascade on GSM8K is also run again on other random orders (fresh aliases, nothing learned carried over) to show
// how much one run's figures owe to its order.
var aliases = datasets.SelectMany(static d => d.Modes.Select(m => (d.Name, m, 0)))
    .Concat(Enumerable.Range(1, Math.Max(0, options.Repeats - 1)).Select(static r => ("gsm8k", Mode.Cascade, r)));
await File.WriteAllTextAsync(configFile, Config(replay.BaseUrl, prices, aliases, options.Targets, options.Seed));
var masterKey = "bench-" + Guid.NewGuid().ToString("N");
var app = MarketplaceApp.Build(new HostSettings
{
    ConfigFile = configFile,
    DataDirectory = dataDirectory,
    Urls = "http://127.0.0.1:0",
    MasterKey = masterKey,
    Overrides = new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Warning" },
});
await app.StartAsync();
var gatewayUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/') + "/";
using var http = new HttpClient { BaseAddress = new Uri(gatewayUrl), Timeout = TimeSpan.FromSeconds(60) };
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", masterKey);

var report = new StringBuilder();
report.AppendLine("# Optimizer benchmark: the auto-router on RouteLLM's GSM8K and MMLU data").AppendLine();
report.AppendLine(CultureInfo.InvariantCulture, $"Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}; `bench/optimizer/run.sh` (seed {options.Seed}).").AppendLine();
report.AppendLine(CultureInfo.InvariantCulture, $"Prices (USD per 1M tokens, input/output): weak = Mixtral 8x7B Instruct {prices.WeakInput}/{prices.WeakOutput} ({prices.WeakSource}); strong = GPT-4 Turbo (gpt-4-1106-preview) {prices.StrongInput}/{prices.StrongOutput} ({prices.StrongSource}). Tokens counted by the gateway (the replay reports no usage).").AppendLine();
var summary = new List<string>();

foreach (var (name, items, modes) in datasets)
{
    Console.WriteLine($"{name}: measuring always-weak and always-strong costs");
    var weakCost = new decimal[items.Count];
    var strongCost = new decimal[items.Count];
    await Parallel.ForEachAsync(Enumerable.Range(0, items.Count), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, _) =>
    {
        weakCost[i] = (await ChatAsync(http, "weak", items[i].Prompt)).Cost;
        strongCost[i] = (await ChatAsync(http, "strong", items[i].Prompt)).Cost;
    });

  foreach (var mode in modes)
  {
    var watch = Stopwatch.StartNew();
    var runs = new List<(double Target, RunFigures All, RunFigures SecondHalf)>();
    foreach (var target in options.Targets)
    {
        var calls = await StreamAsync(http, items, Alias(name, mode, target), options.Seed + (int)(target * 1000));
        var all = RunFigures.Of(calls, items, weakCost, strongCost);
        var secondHalf = RunFigures.Of(calls.Skip(calls.Count / 2).ToList(), items, weakCost, strongCost);
        runs.Add((target, all, secondHalf));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name} {mode} target {target}: strong {all.StrongShare:P1}, quality {all.Quality:P1}, saving {all.Saving:P1}; second half quality {secondHalf.Quality:P1}, saving {secondHalf.Saving:P1}"));
    }
    Write(report, summary, name, mode, items, weakCost, strongCost, runs, watch.Elapsed);
    if (mode == Mode.Cascade && options.Repeats > 1)
    {
        var rows = new List<(int Order, IReadOnlyList<(double Target, RunFigures All)> Runs)> { (0, runs.Select(static r => (r.Target, r.All)).ToList()) };
        for (var round = 1; round < options.Repeats; round++)
        {
            var again = new List<(double Target, RunFigures All)>();
            foreach (var target in options.Targets)
            {
                var calls = await StreamAsync(http, items, Alias(name, mode, target, round), options.Seed + (round * 7919) + (int)(target * 1000));
                again.Add((target, RunFigures.Of(calls, items, weakCost, strongCost)));
            }
            rows.Add((round, again));
        }
        WriteRepeats(report, name, rows);
    }
  }
}

report.AppendLine("## Summary").AppendLine();
foreach (var line in summary) report.AppendLine(line);
report.AppendLine().AppendLine(Method());
await app.StopAsync();
await app.DisposeAsync();
try { Directory.Delete(dataDirectory, true); } catch (IOException) { }

var outFile = options.Out ?? Path.Combine(root, "bench", "results", "optimizer.md");
await File.WriteAllTextAsync(outFile, report.ToString());
Console.WriteLine(report.ToString());
Console.WriteLine($"Written to {Path.GetRelativePath(root, outFile)}");
return 0;

static void Write(StringBuilder report, List<string> summary, string dataset, Mode mode, List<Item> items, decimal[] weakCost, decimal[] strongCost, List<(double Target, RunFigures All, RunFigures SecondHalf)> runs, TimeSpan elapsed)
{
    var name = dataset.ToUpperInvariant() + (mode == Mode.Cascade ? ", cascade" : ", prediction only");
    var n = items.Count;
    var accW = items.Count(static i => i.WeakCorrect) / (double)n;
    var accS = items.Count(static i => i.StrongCorrect) / (double)n;
    var costW = weakCost.Sum();
    var costS = strongCost.Sum();
    var inv = CultureInfo.InvariantCulture;
    report.AppendLine(inv, $"## {name} ({n} prompts, each routed once per quality target, in a random order; {elapsed.TotalSeconds:0} s)").AppendLine();
    if (mode == Mode.Cascade)
    {
        report.AppendLine("Every call first asks the weak model; \"strong calls\" are the escalations, and their cost includes the weak answer that was checked and set aside.").AppendLine();
    }
    report.AppendLine(inv, $"Always-weak: accuracy {accW:P1}, cost ${costW:0.0000}. Always-strong: accuracy {accS:P1}, cost ${costS:0.0000} (the weak model costs {(double)(costW / costS):P1} of the strong one).").AppendLine();
    report.AppendLine("| QualityTarget | strong calls | accuracy | quality (share of always-strong) | cost saving vs always-strong | PGR | random router at the same strong share: quality / saving | second half of the stream: quality / saving |");
    report.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
    foreach (var (target, all, half) in runs)
    {
        var random = all.Random;
        report.AppendLine(inv, $"| {target:0.###} | {all.StrongShare:P1} | {all.Accuracy:P1} | {all.Quality:P1} | {all.Saving:P1} | {all.Pgr:0.000} | {random.Quality:P1} / {random.Saving:P1} | {half.Quality:P1} / {half.Saving:P1} |");
    }
    var points = runs.Select(static r => (r.All.StrongShare, r.All.Pgr)).ToList();
    var apgr = Curve.Apgr(points);
    var at50 = Curve.ShareAt(points, 0.5);
    var at80 = Curve.ShareAt(points, 0.8);
    // Cost at a share of strong calls, as a fraction of always-strong's, interpolated like a random mix of the two costs.
    double CostAt(double share) => (double)((((decimal)share * costS) + ((1 - (decimal)share) * costW)) / costS);
    var randomAt95 = Math.Clamp(((0.95 * accS) - accW) / (accS - accW), 0, 1);
    report.AppendLine();
    report.AppendLine(inv, $"APGR over the operating points above: **{apgr:0.000}** (random router 0.500). Strong calls needed for 50% PGR: **{at50:P1}** (random 50.0%); for 80% PGR: **{at80:P1}** (random 80.0%); as cost relative to always-strong: {CostAt(at50):P1} and {CostAt(at80):P1}.");
    report.AppendLine();
    var best = runs.Where(static r => r.All.Quality >= 0.95).OrderByDescending(static r => r.All.Saving).Select(static r => ((double, RunFigures)?)(r.Target, r.All)).FirstOrDefault();
    var randomSaving = 1 - CostAt(randomAt95);
    var line = best is { } b
        ? string.Create(inv, $"- {name}: best saving at ≥ 95% quality: **{b.Item2.Saving:P1}** (QualityTarget {b.Item1:0.###}, quality {b.Item2.Quality:P1}, {b.Item2.StrongShare:P1} strong calls); a random router needs {randomAt95:P1} strong calls for 95% quality, a saving of {randomSaving:P1}.")
        : string.Create(inv, $"- {name}: no run reached 95% of always-strong's quality; a random router needs {randomAt95:P1} strong calls for it, a saving of {randomSaving:P1}.");
    summary.Add(line);
    report.AppendLine(line.TrimStart('-', ' ')).AppendLine();
}

// Sends every prompt once, in an order shuffled by the seed, to the alias, and feeds back whether the model that answered was right.
static async Task<List<Routed>> StreamAsync(HttpClient http, List<Item> items, string alias, int seed)
{
    var order = Enumerable.Range(0, items.Count).ToList().Shuffled(new Random(seed));
    var calls = new List<Routed>(items.Count);
    foreach (var i in order)
    {
        var answer = await ChatAsync(http, alias, items[i].Prompt);
        var strong = answer.Deployment.EndsWith(ReplayUpstream.StrongModel, StringComparison.Ordinal);
        var correct = strong ? items[i].StrongCorrect : items[i].WeakCorrect;
        using var feedback = await http.PostAsJsonAsync("v1/feedback", new { requestId = answer.RequestId, score = correct ? 1.0 : 0.0 });
        if (!feedback.IsSuccessStatusCode) throw new InvalidOperationException($"feedback answered {(int)feedback.StatusCode}: {await feedback.Content.ReadAsStringAsync()}");
        calls.Add(new Routed(i, strong, correct, answer.Cost));
    }
    return calls;
}

static void WriteRepeats(StringBuilder report, string dataset, List<(int Order, IReadOnlyList<(double Target, RunFigures All)> Runs)> rows)
{
    var inv = CultureInfo.InvariantCulture;
    report.AppendLine(inv, $"### {dataset.ToUpperInvariant()}, cascade, on {rows.Count} random orders").AppendLine();
    report.AppendLine("Each order is a separate run from nothing learned. Per QualityTarget: quality / saving.").AppendLine();
    report.AppendLine("| order | " + string.Join(" | ", rows[0].Runs.Select(r => r.Target.ToString("0.###", inv))) + " | best saving at ≥ 95% quality |");
    report.AppendLine("| --- | " + string.Join(" | ", rows[0].Runs.Select(static _ => "---")) + " | --- |");
    foreach (var (order, runs) in rows)
    {
        var best = runs.Where(static r => r.All.Quality >= 0.95).OrderByDescending(static r => r.All.Saving).Select(static r => ((double, RunFigures)?)(r.Target, r.All)).FirstOrDefault();
        var bestText = best is { } b ? string.Create(inv, $"{b.Item2.Saving:P1} (target {b.Item1:0.###}, quality {b.Item2.Quality:P1})") : "none";
        var cells = string.Join(" | ", runs.Select(r => string.Create(inv, $"{r.All.Quality:P1} / {r.All.Saving:P1}")));
        var label = order == 0 ? "the run above" : "#" + order.ToString(inv);
        report.AppendLine($"| {label} | {cells} | {bestText} |");
    }
    report.AppendLine();
}

static async Task<(string RequestId, string Deployment, decimal Cost)> ChatAsync(HttpClient http, string model, string prompt)
{
    using var response = await http.PostAsJsonAsync("v1/chat/completions", new { model, messages = new[] { new { role = "user", content = prompt } } });
    if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{model} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    string Header(string h) => response.Headers.TryGetValues(h, out var v) ? v.First() : throw new InvalidOperationException($"no {h} header");
    if (Trace.Enabled && response.Headers.TryGetValues("x-gateway-route-reason", out var reasons)) Console.Error.WriteLine(reasons.First());
    return (Header("x-request-id"), Header("x-gateway-deployment"), decimal.Parse(Header("x-gateway-cost"), CultureInfo.InvariantCulture));
}

static string Alias(string dataset, Mode mode, double target, int round = 0) =>
    string.Create(CultureInfo.InvariantCulture, $"auto-{dataset}-{mode.ToString().ToLowerInvariant()}-{target * 1000:0000}{(round == 0 ? "" : "-r" + round)}");

static string Config(string upstream, Prices prices, IEnumerable<(string Dataset, Mode Mode, int Round)> aliases, IReadOnlyList<double> targets, int seed)
{
    var inv = CultureInfo.InvariantCulture;
    string Deployment(string model, decimal input, decimal output) => string.Create(inv, $"""
              - Provider: replay
                Model: {model}
                InputPerMTok: {input}
                OutputPerMTok: {output}

        """);
    var weak = Deployment(ReplayUpstream.WeakModel, prices.WeakInput, prices.WeakOutput);
    var strong = Deployment(ReplayUpstream.StrongModel, prices.StrongInput, prices.StrongOutput);
    var yaml = new StringBuilder();
    yaml.Append(inv, $"""
        Providers:
          - Name: replay
            Type: openai
            BaseUrl: {upstream}/v1
        Models:
          - Name: weak
            Deployments:
        {weak}  - Name: strong
            Deployments:
        {strong}
        """);
    foreach (var (dataset, mode, round) in aliases)
    {
        foreach (var target in targets)
        {
            yaml.Append(inv, $"""
                  - Name: {Alias(dataset, mode, target, round)}
                    Routing: auto
                    QualityTarget: {target}
                    Cascade: {(mode == Mode.Cascade ? "true" : "false")}
                    Deployments:
                {strong}{weak}
                """);
        }
    }
    yaml.Append(inv, $"""
        Optimizer:
          Router:
            Seed: {seed}

        """);
    return yaml.ToString();
}

static string Method() => """
    ## Method

    - Data: RouteLLM's recorded correctness of Mixtral 8x7B Instruct (weak) and GPT-4 Turbo (strong) per prompt
      (`routellm/gsm8k_dev.csv`, `routellm/mmlu/*.csv` from the shared data), contaminated prompts excluded. MMLU is a
      seeded random sample of all subjects (`--mmlu-sample`).
    - A replay upstream (Kestrel, loopback) answers each prompt with the recorded answer of the model asked (MMLU has
      no answer text: a fixed one-line answer). The gateway counts tokens and prices them.
    - For each quality target (and routing mode) a separate auto-routed model alias starts with no knowledge and sees
      every prompt once, in a random order; after each answer the driver posts `POST /v1/feedback` with score 1 when the
      model that answered was right on that prompt, else 0. The router learns only from that feedback (no pre-training,
      no downloaded weights). Warm-up and exploration calls count in every figure.
    - Cascade (the default for calls that are not streamed): the weak model answers first; the gateway checks the
      answer (cut off, empty, or a calculation in it that is wrong escalates at once) and a logistic model of its
      features, learned from feedback, predicts whether it is good; answers are kept best first within the loss the
      quality target allows, counting a kept answer's loss as its chance of being wrong times the share of the weak
      model's wrong answers that the strong one got right (learned from escalated calls, starting at 1). An escalated
      call costs both answers.
    - Prediction only (`Cascade: false`, and every streamed call): the choice is made from the prompt alone.
    - Quality = accuracy / always-strong's accuracy on the same prompts; saving = 1 − cost / always-strong's cost.
    - PGR = (accuracy − weak accuracy) / (strong accuracy − weak accuracy); APGR is the area under PGR against the
      share of strong calls through the operating points (one per quality target) plus (0, 0) and (1, 1), by
      trapezoids, as RouteLLM defines it (a random router scores 0.5). "Strong calls for x% PGR" is the smallest share of
      strong calls at which that curve reaches x%.
    - The random router's figures are its expectation at the same share of strong calls.
    - "Second half of the stream" is the same run restricted to its last half of prompts, which the router had not
      seen before, after it learned from the first half.
    """;

static string FindRepositoryRoot()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LlmMarketplace.slnx"))) dir = dir.Parent;
    return dir?.FullName ?? throw new InvalidOperationException("Run the benchmark from inside the repository.");
}

/// <summary>How an alias routes: cascade (weak first, its answer checked) or by prediction from the prompt alone.</summary>
internal enum Mode
{
    Cascade,
    Predict,
}

/// <summary>With --trace, every routing reason is written to standard error.</summary>
internal static class Trace
{
    public static bool Enabled { get; set; }
}

internal sealed record BenchOptions(int Seed, int MmluSample, IReadOnlyList<double> Targets, string? Out, bool Trace, int Repeats)
{
    public static BenchOptions Parse(string[] args)
    {
        var seed = 20240601;
        var sample = 3000;
        IReadOnlyList<double> targets = [0.80, 0.85, 0.90, 0.925, 0.95, 0.975];
        string? output = null;
        var trace = false;
        var repeats = 3;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seed": seed = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--mmlu-sample": sample = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--targets": targets = args[++i].Split(',').Select(static t => double.Parse(t, CultureInfo.InvariantCulture)).ToList(); break;
                case "--out": output = Path.GetFullPath(args[++i]); break;
                case "--trace": trace = true; break;
                case "--repeats": repeats = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"Unknown option {args[i]}; use --seed N, --mmlu-sample N, --targets 0.9,0.95, --repeats N, --out FILE, --trace.");
            }
        }
        return new BenchOptions(seed, sample, targets, output, trace, repeats);
    }
}

/// <summary>The weak and strong models' prices, read from the shared model catalogs.</summary>
internal sealed record Prices(decimal WeakInput, decimal WeakOutput, string WeakSource, decimal StrongInput, decimal StrongOutput, string StrongSource)
{
    public static Prices Load(string data)
    {
        using var modelsDev = JsonDocument.Parse(File.ReadAllText(Path.Combine(data, "models-dev.json")));
        var mistral = modelsDev.RootElement.GetProperty("providers").EnumerateArray().First(static p => p.GetProperty("id").GetString() == "mistral");
        var mixtral = mistral.GetProperty("models").EnumerateArray().First(static m => m.GetProperty("id").GetString() == "open-mixtral-8x7b").GetProperty("cost");
        using var openRouter = JsonDocument.Parse(File.ReadAllText(Path.Combine(data, "openrouter-models.json")));
        var gpt4 = openRouter.RootElement.GetProperty("data").EnumerateArray().First(static m => m.GetProperty("id").GetString() == "openai/gpt-4-1106-preview").GetProperty("pricing");
        decimal PerMillion(JsonElement perToken) => decimal.Parse(perToken.GetString()!, CultureInfo.InvariantCulture) * 1_000_000m;
        return new Prices(
            mixtral.GetProperty("input").GetDecimal(), mixtral.GetProperty("output").GetDecimal(), "models-dev.json, provider mistral, open-mixtral-8x7b",
            PerMillion(gpt4.GetProperty("prompt")), PerMillion(gpt4.GetProperty("completion")), "openrouter-models.json, openai/gpt-4-1106-preview");
    }
}

internal static class ListExtensions
{
    public static List<T> Shuffled<T>(this List<T> list, Random random)
    {
        var copy = new List<T>(list);
        for (var i = copy.Count - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (copy[i], copy[j]) = (copy[j], copy[i]);
        }
        return copy;
    }
}
