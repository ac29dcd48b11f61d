using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Tokens;

namespace LlmMarketplace.Gateway.Moderations;

/// <summary>
/// <c>POST /v1/moderations</c> on the <see cref="GatewayEngine"/>, in OpenAI's format (<c>{model, input}</c> with text or
/// an array of texts or parts), forwarded to OpenAI-type deployments; metered at <c>PerRequest</c> and the input's
/// tokens at <c>InputPerMTok</c>.
/// </summary>
internal sealed class ModerationsHandler(GatewayEngine engine, TokenCounter tokens) : JsonOperation<JsonRequest>(engine, "moderations", ModelKind.Moderation, "moderations")
{
    public override JsonRequest? Parse(ReadOnlyMemory<byte> body, out RequestError? error) => JsonRequest.Parse(body, Validate, out error);

    private static RequestError? Validate(JsonElement root)
    {
        if (!root.TryGetProperty("input", out var input) || input.ValueKind == JsonValueKind.Null)
        {
            return new RequestError("Missing required parameter: 'input'.", "input");
        }
        switch (input.ValueKind)
        {
            case JsonValueKind.String:
                return null;
            case JsonValueKind.Array when input.GetArrayLength() == 0:
                return new RequestError("Invalid 'input': empty array. Expected a string or a non-empty array.", "input", "empty_array");
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in input.EnumerateArray())
                {
                    var ok = item.ValueKind == JsonValueKind.String
                        || (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
                            && type.GetString() switch
                            {
                                "text" => item.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String,
                                "image_url" => item.TryGetProperty("image_url", out var image) && image.ValueKind == JsonValueKind.Object
                                    && image.TryGetProperty("url", out var url) && url.ValueKind == JsonValueKind.String,
                                _ => false,
                            });
                    if (!ok)
                    {
                        return new RequestError($"Invalid 'input[{i}]': expected a string, a {{\"type\": \"text\", \"text\"}} part or an {{\"type\": \"image_url\", \"image_url\": {{\"url\"}}}} part.", $"input[{i}]", "invalid_type");
                    }
                    i++;
                }
                return null;
            default:
                return new RequestError($"Invalid type for 'input': expected a string or an array, but got {RequestError.Describe(input)} instead.", "input", "invalid_type");
        }
    }


    public override int CountPromptTokens(JsonRequest request, RoutableModel model)
    {
        var input = request.Root.GetProperty("input");
        if (input.ValueKind == JsonValueKind.String) return tokens.Count(model.Name, input.GetString()!);
        var count = 0;
        foreach (var item in input.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String) count += tokens.Count(model.Name, item.GetString()!);
            else if (item.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String) count += tokens.Count(model.Name, text.GetString()!);
        }
        return count;
    }

    /// <summary>The input's texts (a string, strings, or text parts; image parts are not text): to classify, never instructions.</summary>
    public override IReadOnlyList<PromptText> PromptTexts(JsonElement root)
    {
        var texts = new List<PromptText>();
        PromptTextReader.AddStrings(texts, root, "input", instructions: false, "text");
        return texts;
    }

    public override HttpRequestMessage CreateUpstreamRequest(RoutableDeployment deployment, JsonRequest request) =>
        OpenAIJson(deployment, "/moderations", request.Root);

    public override async ValueTask<AttemptOutcome> AnswerAsync(GatewayExchange<JsonRequest> exchange, RoutableDeployment deployment, HttpResponseMessage response, AttemptTimer timer, CancellationToken cancellationToken)
    {
        var (bytes, upstreamTime) = await ReadAnswerAsync(response, timer, cancellationToken);
        using (var document = JsonDocument.Parse(bytes))
        {
            if (!document.RootElement.TryGetProperty("results", out var results) || results.ValueKind != JsonValueKind.Array)
            {
                throw new JsonException("A moderation answer has no results.");
            }
        }
        await exchange.Engine.ServeAnswerAsync(exchange, deployment, bytes, new TokenUsage(exchange.Call.EstimatedPromptTokens, 0), upstreamTime, cancellationToken);
        return AttemptOutcome.Done;
    }
}
