using System.Security.Cryptography;
using System.Text;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Embeddings;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Routing;

namespace LlmMarketplace.Gateway.Caching;

/// <summary>
/// A semantic lookup of one call: the prompt, the bucket of entries it may match (same model, operation, stream
/// shape, scope, context and guard) and the similarity it needs. The embedding is kept to store the answer under it.
/// </summary>
internal sealed class SemanticLookup(string model, string team, string bucket, SemanticPrompt prompt, double threshold)
{
    public string Model { get; } = model;

    /// <summary>The caller's team (empty for callers without one, such as the master key).</summary>
    public string Team { get; } = team;

    public string Bucket { get; } = bucket;

    public SemanticPrompt Prompt { get; } = prompt;

    public double Threshold { get; } = threshold;

    /// <summary>The prompt's unit-length embedding, once computed.</summary>
    public float[]? Vector { get; set; }
}

/// <summary>A semantic hit: the cached answer and how close its question was (cosine similarity).</summary>
internal sealed record SemanticHit(CachedResponse Response, double Similarity);

/// <summary>Where semantic entries live: in this process (embedded) or in Redis, shared by every replica (distributed).</summary>
internal interface ISemanticStore
{
    /// <summary>The closest live entry of the lookup's bucket at or above its threshold.</summary>
    ValueTask<SemanticHit?> FindAsync(SemanticLookup lookup, float[] vector, DateTimeOffset now);

    Task AddAsync(SemanticLookup lookup, float[] vector, CachedResponse response, DateTimeOffset now);

    /// <summary>Removes the entries of a model and a team (null: any) created before a time (null: any); returns how many.</summary>
    Task<long> RemoveAsync(string? model, string? team, DateTimeOffset? createdBefore);

    /// <summary>The cosine similarity of two unit-length vectors (minus infinity when their dimensions differ).</summary>
    internal static double Dot(float[] a, float[] b)
    {
        if (a.Length != b.Length) return double.NegativeInfinity;
        var sum = 0.0;
        for (var i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }
}

/// <summary>
/// The semantic cache: after an exact miss, a chat request whose last user message is a paraphrase of a cached one
/// (same conversation before it, same parameters, same numbers, names, quotes, identifiers and negation; embeddings at
/// least the threshold apart) is answered from the cache. Entries never cross teams, nor keys with <c>Scope: key</c>.
/// </summary>
internal sealed class SemanticCache(ModelRegistry registry, ISemanticStore store, TimeProvider time)
{
    private static readonly TimeSpan EmbeddingTimeout = TimeSpan.FromSeconds(10);

    public ISemanticStore Store => store;

    /// <summary>The lookup of a call, or null when the semantic cache does not apply to it.</summary>
    public SemanticLookup? Prepare(string operation, RoutableModel model, RequestShape shape, GatewayCall call, string route)
    {
        var settings = registry.Settings.Cache.Semantic;
        if (!settings.Enabled || settings.EmbeddingModel is null || operation != "chat") return null;
        var own = model.Config.SemanticCache;
        if (own?.Enabled == false) return null;
        if (SemanticPrompt.From(shape.Root) is not { } prompt) return null;
        var team = call.Caller.TeamId ?? "";
        var key = settings.Scope == SemanticCacheScope.Key ? call.Caller.KeyId ?? "" : "";
        var bucket = BucketOf(operation, model.Name, shape.Stream, shape.IncludeUsage, route, team, key, prompt);
        return new SemanticLookup(model.Name, team, bucket, prompt, own?.Threshold ?? settings.Threshold);
    }

    /// <summary>The entries a prompt may match: same operation, model, stream shape, route, team (and key), context and guard.</summary>
    internal static string BucketOf(string operation, string model, bool stream, bool includeUsage, string route, string team, string key, SemanticPrompt prompt)
    {
        var identity = string.Join('\n', operation, model, stream ? "1" : "0", includeUsage ? "1" : "0", route, team, key, prompt.Context, prompt.Guard);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(identity)));
    }

    /// <summary>Embeds the prompt (kept on the lookup) and finds the closest cached paraphrase; null on a miss or when the embedding model cannot answer.</summary>
    public async ValueTask<SemanticHit?> LookupAsync(SemanticLookup lookup, CancellationToken ct)
    {
        if (registry.Settings.Cache.Semantic.EmbeddingModel is not { } embeddingModel) return null;
        lookup.Vector = await EmbedAsync(embeddingModel, lookup.Prompt.Text, ct);
        return lookup.Vector is null ? null : await store.FindAsync(lookup, lookup.Vector, time.GetUtcNow());
    }

    /// <summary>Stores an answer under the lookup's embedding (in the background: the answer has been sent already).</summary>
    public void Add(SemanticLookup lookup, CachedResponse response)
    {
        if (lookup.Vector is { } vector) _ = store.AddAsync(lookup, vector, response, time.GetUtcNow());
    }

    /// <summary>
    /// A unit-length embedding of <paramref name="text"/> by a configured embedding model, through its deployments in
    /// order (skipping open circuits); a <c>local</c> deployment answers in this process. Null when none answers.
    /// </summary>
    public async Task<float[]?> EmbedAsync(string modelName, string text, CancellationToken ct)
    {
        if (!registry.TryGet(modelName, out var model) || model.Config.Kind != ModelKind.Embedding) return null;
        using var request = EmbeddingsRequest.Parse(Body(modelName, text), out _);
        if (request is null) return null;
        foreach (var deployment in model.Deployments)
        {
            if (!deployment.Health.Circuit.IsAvailable) continue;
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(EmbeddingTimeout);
            try
            {
                using var message = deployment.Provider.Adapter.CreateEmbeddingsRequest(deployment, request);
                using var response = await deployment.Provider.Invoker.SendAsync(message, cts.Token);
                if (!response.IsSuccessStatusCode) continue;
                using var document = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cts.Token), cancellationToken: cts.Token);
                if (VectorOf(document.RootElement) is { } vector) return vector;
            }
            catch (Exception ex) when (ex is HttpRequestException or JsonException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                // The next deployment, else a miss: the cache never fails a call.
            }
        }
        return null;
    }

    private static byte[] Body(string model, string text)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("model"u8, model);
            writer.WriteString("input"u8, text);
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static float[]? VectorOf(JsonElement root)
    {
        if (!root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array || data.GetArrayLength() == 0
            || !data[0].TryGetProperty("embedding", out var embedding) || embedding.ValueKind != JsonValueKind.Array || embedding.GetArrayLength() == 0)
        {
            return null;
        }
        var vector = new float[embedding.GetArrayLength()];
        var i = 0;
        foreach (var x in embedding.EnumerateArray())
        {
            if (x.ValueKind != JsonValueKind.Number) return null;
            vector[i++] = x.GetSingle();
        }
        var norm = MathF.Sqrt(vector.Sum(static x => x * x));
        if (norm == 0) return null;
        for (var k = 0; k < vector.Length; k++) vector[k] /= norm;
        return vector;
    }
}

/// <summary>
/// Semantic entries in this process (embedded mode): per bucket, a short list scanned by cosine similarity; at most
/// <c>MaxEntries</c> in all, the oldest dropped first.
/// </summary>
internal sealed class LocalSemanticStore(ModelRegistry registry) : ISemanticStore
{
    private sealed record Item(string Bucket, string Model, string Team, float[] Vector, CachedResponse Response, DateTimeOffset Created);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, List<LinkedListNode<Item>>> _buckets = new(StringComparer.Ordinal);
    private readonly LinkedList<Item> _order = new();

    public int Count
    {
        get { lock (_lock) return _order.Count; }
    }

    public ValueTask<SemanticHit?> FindAsync(SemanticLookup lookup, float[] vector, DateTimeOffset now)
    {
        lock (_lock)
        {
            if (!_buckets.TryGetValue(lookup.Bucket, out var items)) return ValueTask.FromResult<SemanticHit?>(null);
            SemanticHit? best = null;
            for (var i = items.Count - 1; i >= 0; i--)
            {
                var item = items[i].Value;
                if (item.Response.Expires <= now)
                {
                    Remove(items[i]);
                    continue;
                }
                var similarity = ISemanticStore.Dot(item.Vector, vector);
                if (similarity >= lookup.Threshold && similarity > (best?.Similarity ?? double.NegativeInfinity)) best = new SemanticHit(item.Response, similarity);
            }
            return ValueTask.FromResult(best);
        }
    }

    public Task AddAsync(SemanticLookup lookup, float[] vector, CachedResponse response, DateTimeOffset now)
    {
        var max = registry.Settings.Cache.Semantic.MaxEntries;
        lock (_lock)
        {
            var node = _order.AddLast(new Item(lookup.Bucket, lookup.Model, lookup.Team, vector, response, now));
            if (!_buckets.TryGetValue(lookup.Bucket, out var items)) _buckets[lookup.Bucket] = items = [];
            items.Add(node);
            while (_order.Count > max && _order.First is { } oldest) Remove(oldest);
        }
        return Task.CompletedTask;
    }

    public Task<long> RemoveAsync(string? model, string? team, DateTimeOffset? createdBefore)
    {
        long removed = 0;
        lock (_lock)
        {
            for (var node = _order.First; node is not null;)
            {
                var next = node.Next;
                var item = node.Value;
                if ((model is null || item.Model == model) && (team is null || item.Team == team) && (createdBefore is null || item.Created < createdBefore))
                {
                    Remove(node);
                    removed++;
                }
                node = next;
            }
        }
        return Task.FromResult(removed);
    }

    private void Remove(LinkedListNode<Item> node)
    {
        if (_buckets.TryGetValue(node.Value.Bucket, out var items))
        {
            items.Remove(node);
            if (items.Count == 0) _buckets.Remove(node.Value.Bucket);
        }
        _order.Remove(node);
    }
}
