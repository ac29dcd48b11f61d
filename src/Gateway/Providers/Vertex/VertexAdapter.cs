using System.Text.Json.Nodes;
using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Routing;

namespace LlmMarketplace.Gateway.Providers.Vertex;

/// <summary>
/// Google Vertex AI: Gemini models by <c>publishers/google/models/{m}:generateContent</c> (<c>:streamGenerateContent?alt=sse</c>)
/// with <see cref="GeminiAdapter"/>'s translation, and Anthropic models by <c>publishers/anthropic/models/{m}:rawPredict</c>
/// (<c>:streamRawPredict</c>) with <see cref="AnthropicAdapter"/>'s, under
/// <c>{BaseUrl}/v1/projects/{Project}/locations/{Location}/</c>; the token is put on by <see cref="GoogleAuthHandler"/>.
/// </summary>
internal sealed class VertexAdapter : IProviderAdapter
{
    public static readonly VertexAdapter Instance = new();

    /// <summary>The <c>anthropic_version</c> Vertex asks Anthropic bodies to carry (instead of the header).</summary>
    public const string AnthropicVersion = "vertex-2023-10-16";

    /// <summary>
    /// The deployment's publisher and model: <c>Model: anthropic/claude-sonnet-4@20250514</c> names it; without a publisher,
    /// <c>claude…</c> models are Anthropic's and every other model Google's.
    /// </summary>
    internal static (string Publisher, string Model) Split(string upstreamModel)
    {
        var slash = upstreamModel.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0) return (upstreamModel[..slash], upstreamModel[(slash + 1)..]);
        return (upstreamModel.StartsWith("claude", StringComparison.OrdinalIgnoreCase) ? "anthropic" : "google", upstreamModel);
    }

    private static bool IsAnthropic(RoutableDeployment d) => Split(d.Config.UpstreamModel).Publisher == "anthropic";

    internal static string ModelUrl(RoutableDeployment d, string method)
    {
        var vertex = d.Provider.Config.Vertex ?? throw new InvalidOperationException("A vertex provider needs its Project and Location.");
        var (publisher, model) = Split(d.Config.UpstreamModel);
        // Vertex model versions are written with '@' (claude-3-5-sonnet@20240620); it is kept as is in the path.
        var escaped = Uri.EscapeDataString(model).Replace("%40", "@", StringComparison.Ordinal);
        return $"{d.Provider.BasePath}/v1/projects/{Uri.EscapeDataString(vertex.Project)}/locations/{Uri.EscapeDataString(vertex.Location)}/publishers/{Uri.EscapeDataString(publisher)}/models/{escaped}:{method}";
    }

    public HttpRequestMessage CreateChatRequest(RoutableDeployment deployment, ChatRequest request)
    {
        JsonObject body;
        string method;
        if (IsAnthropic(deployment))
        {
            body = AnthropicAdapter.BuildRequest(request, deployment);
            body.Remove("model");
            body["anthropic_version"] = AnthropicVersion;
            method = request.Stream ? "streamRawPredict" : "rawPredict";
        }
        else
        {
            body = GeminiAdapter.BuildRequest(request);
            method = request.Stream ? "streamGenerateContent?alt=sse" : "generateContent";
        }
        var message = new HttpRequestMessage(HttpMethod.Post, ModelUrl(deployment, method)) { Content = new ByteArrayContent(JsonNodes.ToUtf8(body)) };
        message.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        foreach (var (name, value) in deployment.Provider.Config.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }
        return message;
    }

    public UpstreamChatResponse ReadChatResponse(ReadOnlySpan<byte> body, ChatRequest request, RoutableDeployment deployment) =>
        IsAnthropic(deployment)
            ? AnthropicAdapter.Instance.ReadChatResponse(body, request, deployment)
            : GeminiAdapter.Instance.ReadChatResponse(body, request, deployment);

    public IChatStreamTranslator CreateStreamTranslator(ChatRequest request, RoutableDeployment deployment) =>
        IsAnthropic(deployment)
            ? AnthropicAdapter.Instance.CreateStreamTranslator(request, deployment)
            : GeminiAdapter.Instance.CreateStreamTranslator(request, deployment);

    /// <summary>Anthropic models answer errors in Anthropic's envelope (<c>{"type":"error",…}</c>), the rest in Google's.</summary>
    public UpstreamError ReadError(int status, ReadOnlySpan<byte> body) =>
        UpstreamAnswer.ErrorRoot(body) is { ValueKind: JsonValueKind.Object } root && OpenAIAdapter.Str(root, "type") == "error"
            ? AnthropicAdapter.Instance.ReadError(status, body)
            : GeminiAdapter.Instance.ReadError(status, body);
}
