using System.Net.Http.Headers;
using System.Text;
using LlmMarketplace.BuildingBlocks.Secrets;
using LlmMarketplace.Governance.Contracts;

namespace LlmMarketplace.Catalog.Publishing;

/// <summary>
/// The automated checks run on submit, per deployment: a health probe (<c>GET {baseUrl}/models</c>, or the base URL
/// for OpenAPI services), a conformance probe (a one-message chat or a one-word embedding whose answer must have
/// OpenAI's shape) and the latency measured on it.
/// </summary>
internal sealed class ServiceChecker(CatalogOptions options, TimeProvider time, ISecretStore? secrets = null) : IDisposable
{
    private readonly HttpMessageInvoker _http = new(EndpointGuard.CreateHandler(options));

    public async Task<VersionChecks> RunAsync(ListingSpec spec, CancellationToken ct)
    {
        var results = new List<DeploymentCheck>();
        foreach (var d in spec.Deployments ?? [])
        {
            results.Add(await CheckAsync(spec, d, ct));
        }
        var passed = results.Count > 0 && results.All(static r => r.Health.Status != "fail" && r.Conformance.Status != "fail")
            || (results.Count == 0 && spec.Kind is ListingKinds.OpenApi or ListingKinds.Reranker);
        return new VersionChecks(time.GetUtcNow(), passed, results);
    }

    private async Task<DeploymentCheck> CheckAsync(ListingSpec spec, DeploymentSpec d, CancellationToken ct)
    {
        if (d.BaseUrl is null || !Uri.TryCreate(d.BaseUrl.TrimEnd('/') + "/", UriKind.Absolute, out var baseUri))
        {
            return new DeploymentCheck(d.Provider ?? "", d.BaseUrl, CheckResult.Fail("no base URL"), CheckResult.Skipped("no base URL"), null);
        }
        string? key = null;
        if (SecretReference.StoredSecretName(d.ApiKey) is { } stored)
        {
            key = secrets is null ? null : await secrets.GetAsync(stored, ct);
            if (key is null) return new DeploymentCheck(d.Provider ?? "", d.BaseUrl, CheckResult.Fail($"the secret '{stored}' is not in the secret store"), CheckResult.Skipped("no credential"), null);
        }
        else if (d.ApiKey is { } reference && SecretReference.TryResolve(reference, out var secret, out _)) key = secret;
        var openAi = d.Type is null or "openai" or "azure-openai";
        var kind = spec.Kind ?? ListingKinds.Chat;

        CheckResult health;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, kind is ListingKinds.Chat or ListingKinds.Embedding && openAi ? new Uri(baseUri, "models") : baseUri);
            Authorize(request, key);
            using var response = await SendAsync(request, ct);
            health = (int)response.StatusCode < 500
                ? CheckResult.Pass($"HTTP {(int)response.StatusCode}")
                : CheckResult.Fail($"HTTP {(int)response.StatusCode}");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            health = CheckResult.Fail(Describe(ex));
        }

        if (kind is not (ListingKinds.Chat or ListingKinds.Embedding))
        {
            return new DeploymentCheck(d.Provider ?? "", d.BaseUrl, health, CheckResult.Skipped("no conformance probe for this kind"), null);
        }
        if (!openAi)
        {
            return new DeploymentCheck(d.Provider ?? "", d.BaseUrl, health, CheckResult.Skipped($"conformance probes speak the OpenAI protocol; '{d.Type}' is checked by routing"), null);
        }
        var started = time.GetTimestamp();
        CheckResult conformance;
        double? latency = null;
        try
        {
            var chat = kind == ListingKinds.Chat;
            var body = chat
                ? JsonSerializer.Serialize(new { model = d.UpstreamModel, messages = new[] { new { role = "user", content = "Reply with the single word: ok" } }, max_tokens = 5 })
                : JsonSerializer.Serialize(new { model = d.UpstreamModel, input = "ok" });
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(baseUri, chat ? "chat/completions" : "embeddings"))
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            Authorize(request, key);
            using var response = await SendAsync(request, ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            latency = Math.Round(time.GetElapsedTime(started).TotalMilliseconds, 1);
            conformance = !response.IsSuccessStatusCode
                ? CheckResult.Fail($"HTTP {(int)response.StatusCode}")
                : Shape(text, chat);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            conformance = CheckResult.Fail(Describe(ex));
        }
        return new DeploymentCheck(d.Provider ?? "", d.BaseUrl, health, conformance, latency);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.ProbeTimeoutSeconds));
        var response = await _http.SendAsync(request, timeout.Token);
        await response.Content.LoadIntoBufferAsync(1024 * 1024, timeout.Token);
        return response;
    }

    private static void Authorize(HttpRequestMessage request, string? key)
    {
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
    }

    private static string Describe(Exception ex) => ex is TaskCanceledException or OperationCanceledException ? "timed out" : ex.Message;

    /// <summary>The answer must look like OpenAI's: <c>choices[0].message</c> for chat, <c>data[0].embedding</c> (numbers) for embeddings.</summary>
    private static CheckResult Shape(string text, bool chat)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            if (chat)
            {
                return root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0
                    && choices[0].TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object
                    && message.TryGetProperty("role", out _)
                    ? CheckResult.Pass("chat.completion shape")
                    : CheckResult.Fail("the answer has no choices[0].message");
            }
            return root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array && data.GetArrayLength() > 0
                && data[0].TryGetProperty("embedding", out var embedding) && embedding.ValueKind == JsonValueKind.Array && embedding.GetArrayLength() > 0
                && embedding.EnumerateArray().All(static x => x.ValueKind == JsonValueKind.Number)
                ? CheckResult.Pass("embedding shape")
                : CheckResult.Fail("the answer has no data[0].embedding of numbers");
        }
        catch (JsonException)
        {
            return CheckResult.Fail("the answer is not JSON");
        }
    }

    public void Dispose() => _http.Dispose();
}
