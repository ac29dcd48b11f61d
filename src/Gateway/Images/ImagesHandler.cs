using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Tokens;

namespace LlmMarketplace.Gateway.Images;

/// <summary>
/// <c>POST /v1/images/generations</c> on the <see cref="GatewayEngine"/>, in OpenAI's format, forwarded to OpenAI-type
/// deployments. Metered per image the answer holds at <c>PerImage</c>, plus <c>PerRequest</c> and the tokens the answer
/// reports (or the prompt's) at the token prices. Answers are never cached: each call asks for new images.
/// </summary>
internal sealed class ImagesHandler(GatewayEngine engine, TokenCounter tokens) : JsonOperation<JsonRequest>(engine, "images", ModelKind.Image, "image generation")
{
    public override JsonRequest? Parse(ReadOnlyMemory<byte> body, out RequestError? error) => JsonRequest.Parse(body, static root => JsonRequest.First(
        JsonRequest.RequiredString(root, "prompt", 32_000),
        JsonRequest.OptionalInt(root, "n", 1, 10),
        JsonRequest.OptionalEnum(root, "response_format", "url", "b64_json"),
        JsonRequest.OptionalEnum(root, "output_format", "png", "jpeg", "webp"),
        JsonRequest.OptionalEnum(root, "quality", "standard", "hd", "low", "medium", "high", "auto"),
        JsonRequest.OptionalEnum(root, "style", "vivid", "natural"),
        JsonRequest.OptionalEnum(root, "background", "transparent", "opaque", "auto"),
        JsonRequest.OptionalEnum(root, "moderation", "low", "auto"),
        JsonRequest.OptionalInt(root, "output_compression", 0, 100),
        JsonRequest.OptionalBool(root, "stream") ?? (root.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True
            ? new RequestError("Streamed image generation is not supported by the gateway; omit 'stream'.", "stream", "unsupported_value")
            : null),
        root.TryGetProperty("size", out var size) && size.ValueKind is not (JsonValueKind.String or JsonValueKind.Null)
            ? new RequestError("Invalid type for 'size': expected a string such as '1024x1024'.", "size", "invalid_type")
            : null), out error);


    public override int CountPromptTokens(JsonRequest request, RoutableModel model) => tokens.Count(model.Name, request.Root.GetProperty("prompt").GetString()!);

    /// <summary>The prompt, which the image model follows as instructions.</summary>
    public override IReadOnlyList<PromptText> PromptTexts(JsonElement root)
    {
        var texts = new List<PromptText>();
        PromptTextReader.AddString(texts, root, "prompt", instructions: true);
        return texts;
    }

    public override HttpRequestMessage CreateUpstreamRequest(RoutableDeployment deployment, JsonRequest request) =>
        OpenAIJson(deployment, "/images/generations", request.Root);

    public override async ValueTask<AttemptOutcome> AnswerAsync(GatewayExchange<JsonRequest> exchange, RoutableDeployment deployment, HttpResponseMessage response, AttemptTimer timer, CancellationToken cancellationToken)
    {
        var (bytes, upstreamTime) = await ReadAnswerAsync(response, timer, cancellationToken);
        int images;
        TokenUsage usage;
        using (var document = JsonDocument.Parse(bytes))
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
            {
                throw new JsonException("An image answer has no data.");
            }
            images = data.GetArrayLength();
            // gpt-image models report their tokens (input_tokens, output_tokens); DALL·E reports none.
            usage = root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object && u.TryGetProperty("input_tokens", out _)
                ? new TokenUsage(UsageJson.Long(u, "input_tokens"), UsageJson.Long(u, "output_tokens"))
                : new TokenUsage(exchange.Call.EstimatedPromptTokens, 0);
        }
        exchange.UnitCostUsd = images * deployment.Config.Pricing.PerImage;
        await ServeBytesAsync(exchange, deployment, usage, upstreamTime, "application/json", bytes);
        return AttemptOutcome.Done;
    }
}
