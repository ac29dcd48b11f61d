using System.Diagnostics;
using System.Text;
using LlmMarketplace.Shield.Detection;
using LlmMarketplace.Shield.Detection.Training;

/// <summary>
/// What the shield adds to a request inline, per prompt: the injection classifier on its text features alone (the
/// previous classifier's cost) and with the sentence embedding, and every detector, for prompts of two lengths.
/// </summary>
internal static class Latency
{
    /// <param name="CpuPerScan">Process CPU time per scan over the median round (the scan's own cost: one scan runs at a time and nothing else runs in the process).</param>
    public sealed record Row(string Name, int Samples, double P50, double P99, double Max, double CpuPerScan);

    public static async Task<List<Row>> MeasureAsync(ShieldScanner scanner, List<LabelledPrompt> test)
    {
        var shipped = scanner.Model;
        // The same model without its embedding weights: the cost of the text features alone (the scores do not matter here).
        var textOnly = new ShieldScanner(new InjectionModel(
            new LinearHead(shipped.Attack.Weights, shipped.Attack.DenseWeights[..InjectionFeatures.HeuristicCount], shipped.Attack.Bias),
            new LinearHead(shipped.Kind.Weights, shipped.Kind.DenseWeights[..InjectionFeatures.HeuristicCount], shipped.Kind.Bias),
            shipped.Threshold, 0), null);
        var rows = new List<Row>();
        var injection = new ScanGroups(true, false, false);
        foreach (var length in new[] { 300, 2000 })
        {
            var prompts = Prompts(test, length);
            rows.Add(await MeasureAsync($"{length:N0} characters: injection, text features only", textOnly, prompts, injection, rounds: 5, perRound: 2000));
            rows.Add(await MeasureAsync($"{length:N0} characters: injection, text features and embedding", scanner, prompts, injection, rounds: 3, perRound: 200));
            rows.Add(await MeasureAsync($"{length:N0} characters: every detector, with embedding", scanner, prompts, ScanGroups.All, rounds: 3, perRound: 200));
            rows.Add(await MeasureAsync($"{length:N0} characters: personal data and secrets only", textOnly, prompts, new ScanGroups(false, true, true), rounds: 5, perRound: 2000));
        }
        return rows;
    }

    /// <summary>Prompts of <paramref name="length"/> characters made of held-out texts (attacks and benign), a quarter with personal data and a key mixed in.</summary>
    private static List<string> Prompts(List<LabelledPrompt> test, int length)
    {
        var prompts = new List<string>();
        var pieces = test.Select(static r => r.Text).ToList();
        var random = new Random(7);
        for (var i = 0; i < 200; i++)
        {
            var sb = new StringBuilder();
            if (i % 4 == 0) sb.Append("Contact jane.doe@example.com or +44 20 7946 0958, card 4111 1111 1111 1111, key sk-proj-abcDEF1234567890abcdef1234. ");
            while (sb.Length < length) sb.Append(pieces[random.Next(pieces.Count)]).Append(' ');
            prompts.Add(sb.ToString(0, length));
        }
        return prompts;
    }

    /// <summary>Wall clock per scan, over rounds; the median round's percentiles (the machine is shared: rounds smooth out bursts of other work).</summary>
    private static async Task<Row> MeasureAsync(string name, ShieldScanner scanner, List<string> prompts, ScanGroups groups, int rounds, int perRound)
    {
        for (var i = 0; i < Math.Min(perRound, 400); i++) await scanner.ScanAsync(prompts[i % prompts.Count], groups); // warm-up (tiered JIT)
        var results = new List<(double P50, double P99, double Max, double Cpu)>();
        using var process = Process.GetCurrentProcess();
        for (var round = 0; round < rounds; round++)
        {
            var samples = new double[perRound];
            process.Refresh();
            var cpuStart = process.TotalProcessorTime;
            for (var i = 0; i < samples.Length; i++)
            {
                var start = Stopwatch.GetTimestamp();
                await scanner.ScanAsync(prompts[i % prompts.Count], groups);
                samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
            process.Refresh();
            var cpu = (process.TotalProcessorTime - cpuStart).TotalMilliseconds / perRound;
            Array.Sort(samples);
            results.Add((samples[samples.Length / 2], samples[(int)(samples.Length * 0.99)], samples[^1], cpu));
        }
        var median = results.OrderBy(static r => r.P99).ToList()[results.Count / 2];
        return new Row(name, rounds * perRound, median.P50, median.P99, median.Max, median.Cpu);
    }
}
