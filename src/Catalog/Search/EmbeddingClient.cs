using System.Net.Http.Headers;
using System.Text;
using LlmMarketplace.BuildingBlocks.Embeddings;
using LlmMarketplace.BuildingBlocks.Secrets;

namespace LlmMarketplace.Catalog.Search;

/// <summary>
/// Embeds listings (when their version is published; stored per version and model) and search queries (once per
/// search) for hybrid search: through the configured OpenAI-compatible endpoint (<c>Catalog:Embeddings:BaseUrl</c>), or
/// by default with the embedding model that runs in this process. Vectors are returned unit-length.
/// </summary>
internal sealed class EmbeddingClient : IDisposable
{
    private readonly HttpMessageInvoker? _http;
    private readonly Uri? _endpoint;
    private readonly string? _apiKey;
    private readonly LocalEmbeddingModel? _local;

    public EmbeddingClient(CatalogOptions options)
    {
        if (!options.EmbeddingsEnabled) return;
        if (string.IsNullOrWhiteSpace(options.EmbeddingBaseUrl))
        {
            var id = string.IsNullOrWhiteSpace(options.EmbeddingModel) ? LocalEmbeddingModel.MiniLmL6V2 : options.EmbeddingModel;
            if (!LocalEmbeddingModel.IsKnown(id))
            {
                throw new InvalidOperationException($"Catalog:Embeddings:Model '{id}' is not a model this process runs (known: {string.Join(", ", LocalEmbeddingModel.Known)}); set Catalog:Embeddings:BaseUrl to use an outside embeddings endpoint, or Catalog:Embeddings:Enabled to false.");
            }
            _local = LocalEmbeddingModel.Get(id);
            // Stored vectors are keyed by model: the local model's never mix with an endpoint's of the same name.
            Model = "local:" + _local.Id;
            return;
        }
        if (string.IsNullOrWhiteSpace(options.EmbeddingModel))
        {
            throw new InvalidOperationException("Catalog:Embeddings:Model must name the model to ask Catalog:Embeddings:BaseUrl for.");
        }
        Model = options.EmbeddingModel;
        _endpoint = new Uri(options.EmbeddingBaseUrl.TrimEnd('/') + "/embeddings");
        if (options.EmbeddingApiKey is { } reference && SecretReference.TryResolve(reference, out var secret, out _)) _apiKey = secret;
        _http = new HttpMessageInvoker(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false, ConnectTimeout = TimeSpan.FromSeconds(5) });
    }

    public bool Enabled => _http is not null || _local is not null;

    /// <summary>Starts loading the in-process model in the background, so that the first search after a start is not the one that waits for it.</summary>
    public void WarmUp()
    {
        // A model that fails to load fails again when a search needs it; here the failure is only observed.
        if (_local is not null) _ = _local.LoadAsync().ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
    }

    /// <summary>The model the stored vectors belong to (<c>local:ID</c> for the in-process model).</summary>
    public string? Model { get; }

    /// <summary>Unit-length vectors of <paramref name="inputs"/>; null when embeddings are off or the endpoint gave no usable answer.</summary>
    public async Task<float[][]?> EmbedAsync(IReadOnlyList<string> inputs, TimeSpan timeout, CancellationToken ct)
    {
        if (inputs.Count == 0) return null;
        // The in-process model is loaded once; the time bound is for the encoding, not for that load.
        if (_local is not null) await _local.LoadAsync().WaitAsync(ct);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        if (_local is not null)
        {
            try
            {
                return await _local.EmbedAsync(inputs, cts.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TaskCanceledException($"Embedding {inputs.Count} inputs took longer than {timeout.TotalSeconds:0.#} s.");
            }
        }
        if (_http is null) return null;
        using var request = new HttpRequestMessage(HttpMethod.Post, _endpoint)
        {
            Content = new StringContent(JsonSerializer.Serialize(new { model = Model, input = inputs }), Encoding.UTF8, "application/json"),
        };
        if (_apiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _apiKey);
        using var response = await _http.SendAsync(request, cts.Token);
        if (!response.IsSuccessStatusCode) return null;
        using var doc = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cts.Token), cancellationToken: cts.Token);
        if (!doc.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array || data.GetArrayLength() != inputs.Count) return null;
        var result = new float[inputs.Count][];
        var position = 0;
        foreach (var item in data.EnumerateArray())
        {
            var index = item.TryGetProperty("index", out var i) && i.ValueKind == JsonValueKind.Number ? i.GetInt32() : position;
            position++;
            if (index < 0 || index >= result.Length || !item.TryGetProperty("embedding", out var e) || e.ValueKind != JsonValueKind.Array) return null;
            var vector = e.EnumerateArray().Select(static x => x.GetSingle()).ToArray();
            var norm = MathF.Sqrt(vector.Sum(static x => x * x));
            if (norm > 0) for (var k = 0; k < vector.Length; k++) vector[k] /= norm;
            result[index] = vector;
        }
        return result.Any(static r => r is null) ? null : result;
    }

    public static string Encode(float[] vector)
    {
        var bytes = new byte[vector.Length * sizeof(float)];
        Buffer.BlockCopy(vector, 0, bytes, 0, bytes.Length);
        return Convert.ToBase64String(bytes);
    }

    public static float[] Decode(string text)
    {
        var bytes = Convert.FromBase64String(text);
        var vector = new float[bytes.Length / sizeof(float)];
        Buffer.BlockCopy(bytes, 0, vector, 0, vector.Length * sizeof(float));
        return vector;
    }

    public void Dispose() => _http?.Dispose();
}
