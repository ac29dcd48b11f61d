using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LlmMarketplace.BuildingBlocks.Secrets;

namespace LlmMarketplace.Catalog.Search;

/// <summary>
/// Calls the configured OpenAI-compatible embeddings endpoint (<c>Catalog:Embeddings</c>): listings are embedded
/// when their version is published, a search query once per search. Vectors are returned unit-length.
/// </summary>
internal sealed class EmbeddingClient : IDisposable
{
    private readonly HttpMessageInvoker? _http;
    private readonly Uri? _endpoint;
    private readonly string? _apiKey;

    public EmbeddingClient(CatalogOptions options)
    {
        Model = options.EmbeddingModel;
        if (string.IsNullOrWhiteSpace(options.EmbeddingBaseUrl) || string.IsNullOrWhiteSpace(options.EmbeddingModel)) return;
        _endpoint = new Uri(options.EmbeddingBaseUrl.TrimEnd('/') + "/embeddings");
        if (options.EmbeddingApiKey is { } reference && SecretReference.TryResolve(reference, out var secret, out _)) _apiKey = secret;
        _http = new HttpMessageInvoker(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false, ConnectTimeout = TimeSpan.FromSeconds(5) });
    }

    public bool Enabled => _http is not null;

    public string? Model { get; }

    public async Task<float[][]?> EmbedAsync(IReadOnlyList<string> inputs, TimeSpan timeout, CancellationToken ct)
    {
        if (_http is null || inputs.Count == 0) return null;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
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
