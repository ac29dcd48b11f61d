using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Routing;

namespace LlmMarketplace.Gateway.Embeddings;

/// <summary>A parsed <c>POST /v1/embeddings</c> body.</summary>
internal sealed class EmbeddingsRequest : JsonBodyRequest
{
    private EmbeddingsRequest(JsonDocument document, string model, IReadOnlyList<string>? texts, string encodingFormat, RouteFilter? route)
        : base(document, model, route)
    {
        Texts = texts;
        EncodingFormat = encodingFormat;
    }

    /// <summary>The inputs as strings; null when the input is token arrays.</summary>
    public IReadOnlyList<string>? Texts { get; }

    public string EncodingFormat { get; }

    public static EmbeddingsRequest? Parse(ReadOnlyMemory<byte> body, out RequestError? error)
    {
        if (JsonRequest.ParseDocument(body, out error) is not { } document) return null;
        var root = document.RootElement;
        error = Validate(root, out var model, out var texts, out var format, out var route);
        if (error is not null)
        {
            document.Dispose();
            return null;
        }
        return new EmbeddingsRequest(document, model!, texts, format, route);
    }

    private static RequestError? Validate(JsonElement root, out string? model, out List<string>? texts, out string format, out RouteFilter? route)
    {
        texts = null;
        format = "float";
        route = null;
        if (JsonRequest.CheckModel(root, out model) is { } modelError) return modelError;
        if (!root.TryGetProperty("input", out var input) || input.ValueKind == JsonValueKind.Null)
        {
            return new RequestError("Missing required parameter: 'input'.", "input");
        }
        switch (input.ValueKind)
        {
            case JsonValueKind.String:
                if (input.GetString()!.Length == 0)
                {
                    return new RequestError("'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", "input");
                }
                texts = [input.GetString()!];
                break;
            case JsonValueKind.Array:
                if (input.GetArrayLength() == 0)
                {
                    return new RequestError("'$.input' is invalid: an empty array.", "input");
                }
                if (input.GetArrayLength() > 2048)
                {
                    return new RequestError("'$.input' is invalid: at most 2048 inputs per request.", "input");
                }
                var first = input[0];
                if (first.ValueKind == JsonValueKind.String)
                {
                    texts = [];
                    foreach (var item in input.EnumerateArray())
                    {
                        if (item.ValueKind != JsonValueKind.String || item.GetString()!.Length == 0)
                        {
                            return new RequestError("'$.input' is invalid: every item must be a non-empty string.", "input");
                        }
                        texts.Add(item.GetString()!);
                    }
                }
                else if (first.ValueKind is not (JsonValueKind.Number or JsonValueKind.Array))
                {
                    return new RequestError("'$.input' is invalid: expected a string, an array of strings, or token arrays.", "input");
                }
                break;
            default:
                return new RequestError($"Invalid type for 'input': expected a string or an array, but got {RequestError.Describe(input)} instead.", "input");
        }
        if (root.TryGetProperty("encoding_format", out var ef) && ef.ValueKind != JsonValueKind.Null)
        {
            if (ef.ValueKind != JsonValueKind.String || ef.GetString() is not ("float" or "base64"))
            {
                return new RequestError("Invalid value for 'encoding_format': expected 'float' or 'base64'.", "encoding_format");
            }
            format = ef.GetString()!;
        }
        if (root.TryGetProperty("user", out var user) && user.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
        {
            return new RequestError($"Invalid type for 'user': expected a string, but got {RequestError.Describe(user)} instead.", "user", "invalid_type");
        }
        if (root.TryGetProperty("dimensions", out var dimensions) && dimensions.ValueKind != JsonValueKind.Null &&
            (dimensions.ValueKind != JsonValueKind.Number || !dimensions.TryGetInt32(out var dims) || dims < 1))
        {
            return new RequestError("Invalid 'dimensions': expected an integer of at least 1.", "dimensions", dimensions.ValueKind == JsonValueKind.Number ? "invalid_value" : "invalid_type");
        }
        if (root.TryGetProperty("provider", out var provider) && provider.ValueKind == JsonValueKind.Object)
        {
            route = RouteFilter.FromJson(provider);
        }
        return null;
    }
}
