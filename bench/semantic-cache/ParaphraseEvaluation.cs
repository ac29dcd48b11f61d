using System.Text.Json;
using LlmMarketplace.BuildingBlocks.Embeddings;
using LlmMarketplace.Gateway.Caching;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;

namespace LlmMarketplace.SemanticCacheBench;

/// <summary>One base question of the paraphrase set, with questions that ask the same (paraphrases) and questions that do not (decoys).</summary>
internal sealed record ParaphraseItem(string Question, IReadOnlyList<string> Paraphrases, IReadOnlyList<string> Decoys);

/// <summary>What the cache did with the probes at one threshold.</summary>
/// <param name="Served">Probes answered from the cache.</param>
/// <param name="ServedRight">Probes answered with the answer to their own question (a paraphrase served its base question's answer).</param>
/// <param name="ParaphraseHits">Paraphrases served their own question's answer.</param>
/// <param name="DecoysServed">Decoys answered from the cache (always a wrong answer).</param>
internal sealed record ParaphraseScore(double Threshold, bool Guarded, int Paraphrases, int Decoys, int Served, int ServedRight, int ParaphraseHits, int DecoysServed)
{
    /// <summary>Answers served from the cache that answer the question asked.</summary>
    public double Precision => Served == 0 ? 1 : (double)ServedRight / Served;

    /// <summary>Paraphrases served from the cache.</summary>
    public double HitRate => Paraphrases == 0 ? 0 : (double)ParaphraseHits / Paraphrases;
}

/// <summary>
/// Replays the paraphrase set through the semantic cache's own parts: each base question is cached (prompt extraction,
/// guard, bucket and the in-process store, as a chat request of one team), then every paraphrase and decoy is looked
/// up. Embeddings come from the in-process model, as a <c>local</c> deployment computes them.
/// </summary>
internal sealed class ParaphraseEvaluation
{
    private readonly List<ParaphraseItem> _items;
    private readonly Dictionary<string, float[]> _vectors;

    private ParaphraseEvaluation(List<ParaphraseItem> items, Dictionary<string, float[]> vectors)
    {
        _items = items;
        _vectors = vectors;
    }

    public IReadOnlyList<ParaphraseItem> Items => _items;

    public static List<ParaphraseItem> Read(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        return document.RootElement.GetProperty("items").EnumerateArray().Select(static e => new ParaphraseItem(
            e.GetProperty("question").GetString()!,
            e.GetProperty("paraphrases").EnumerateArray().Select(static p => p.GetString()!).ToList(),
            e.GetProperty("decoys").EnumerateArray().Select(static d => d.GetString()!).ToList())).ToList();
    }

    /// <summary>Embeds every question of the set once (batched).</summary>
    public static async Task<ParaphraseEvaluation> CreateAsync(string path)
    {
        var items = Read(path);
        var texts = items.SelectMany(static i => new[] { i.Question }.Concat(i.Paraphrases).Concat(i.Decoys))
            .Select(static t => Prompt(t).Text).Distinct(StringComparer.Ordinal).ToList();
        var vectors = await LocalEmbeddingModel.Get(LocalEmbeddingModel.MiniLmL6V2).EmbedAsync(texts, CancellationToken.None);
        return new ParaphraseEvaluation(items, texts.Select((t, i) => (t, vectors[i])).ToDictionary(static p => p.t, static p => p.Item2, StringComparer.Ordinal));
    }

    /// <summary>The prompt the gateway reads from a one-message chat request asking <paramref name="question"/>.</summary>
    public static SemanticPrompt Prompt(string question)
    {
        using var request = JsonDocument.Parse(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["model"] = "m",
            ["messages"] = new[] { new Dictionary<string, string> { ["role"] = "user", ["content"] = question } },
        }));
        return SemanticPrompt.From(request.RootElement) ?? throw new InvalidOperationException($"No prompt in '{question}'.");
    }

    /// <param name="guarded">False to measure the embeddings alone (every entry in one bucket, whatever the guard says).</param>
    public async Task<ParaphraseScore> ScoreAsync(double threshold, bool guarded = true)
    {
        using var registry = new ModelRegistry(TimeProvider.System);
        registry.Apply(new GatewayConfig([], [], GatewaySettings.Default));
        var store = new LocalSemanticStore(registry);
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < _items.Count; i++)
        {
            // The cached answer names its question (in Deployment), so a hit tells which question it answers.
            var lookup = Lookup(_items[i].Question, threshold, guarded);
            var answer = new CachedResponse([], false, "p", i.ToString(System.Globalization.CultureInfo.InvariantCulture), default(TokenUsage), now.AddHours(1));
            await store.AddAsync(lookup, _vectors[lookup.Prompt.Text], answer, now);
        }
        int paraphrases = 0, decoys = 0, served = 0, right = 0, hits = 0, decoysServed = 0;
        for (var i = 0; i < _items.Count; i++)
        {
            foreach (var (probe, same) in _items[i].Paraphrases.Select(static p => (p, true)).Concat(_items[i].Decoys.Select(static d => (d, false))))
            {
                if (same) paraphrases++;
                else decoys++;
                var lookup = Lookup(probe, threshold, guarded);
                if (await store.FindAsync(lookup, _vectors[lookup.Prompt.Text], now) is not { } hit) continue;
                served++;
                var correct = same && hit.Response.Deployment == i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (correct)
                {
                    right++;
                    hits++;
                }
                if (!same) decoysServed++;
            }
        }
        return new ParaphraseScore(threshold, guarded, paraphrases, decoys, served, right, hits, decoysServed);
    }

    /// <summary>The similarity of a probe to its base question (for reports).</summary>
    public double Similarity(string a, string b) => ISemanticStore.Dot(_vectors[Prompt(a).Text], _vectors[Prompt(b).Text]);

    private static SemanticLookup Lookup(string question, double threshold, bool guarded)
    {
        var prompt = Prompt(question);
        if (!guarded) prompt = prompt with { Guard = "" };
        return new SemanticLookup("m", "team", SemanticCache.BucketOf("chat", "m", false, false, "", "team", "", prompt), prompt, threshold);
    }
}
