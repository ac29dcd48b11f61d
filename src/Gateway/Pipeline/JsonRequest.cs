using LlmMarketplace.Gateway.Routing;

namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>
/// A parsed JSON body of one of the smaller operations (rerank, moderations, images, speech): an object with a
/// <c>model</c>, checked by the operation's own rules, and the gateway's <c>provider</c> routing extension.
/// </summary>
internal sealed class JsonRequest : JsonBodyRequest
{
    private JsonRequest(JsonDocument document, string model, RouteFilter? route) : base(document, model, route)
    {
    }

    /// <summary>Parses <paramref name="body"/>; <paramref name="validate"/> checks the fields beyond <c>model</c> and returns the first error, or null.</summary>
    public static JsonRequest? Parse(ReadOnlyMemory<byte> body, Func<JsonElement, RequestError?> validate, out RequestError? error)
    {
        if (ParseDocument(body, out error) is not { } document) return null;
        var root = document.RootElement;
        error = Check(root, validate, out var model);
        if (error is not null)
        {
            document.Dispose();
            return null;
        }
        var route = root.TryGetProperty("provider", out var provider) && provider.ValueKind == JsonValueKind.Object ? RouteFilter.FromJson(provider) : null;
        return new JsonRequest(document, model!, route);
    }

    private static RequestError? Check(JsonElement root, Func<JsonElement, RequestError?> validate, out string? model)
    {
        if (CheckModel(root, out model) is { } modelError) return modelError;
        if (root.TryGetProperty("user", out var user) && user.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
        {
            return new RequestError($"Invalid type for 'user': expected a string, but got {RequestError.Describe(user)} instead.", "user", "invalid_type");
        }
        return validate(root);
    }

    /// <summary>Parses a <c>/v1</c> body as JSON, or answers the error OpenAI gives for one that is not.</summary>
    public static JsonDocument? ParseDocument(ReadOnlyMemory<byte> body, out RequestError? error, int maxDepth = 0)
    {
        try
        {
            error = null;
            return JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = maxDepth });
        }
        catch (JsonException ex)
        {
            error = new RequestError($"We could not parse the JSON body of your request. ({ex.Message}) The OpenAI API expects a JSON payload.", null);
            return null;
        }
    }

    /// <summary>Checks that the body is an object with a non-empty string <c>model</c>; the error naming what is wrong, or null with the model.</summary>
    public static RequestError? CheckModel(JsonElement root, out string? model)
    {
        model = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return new RequestError("The request body must be a JSON object.", null);
        }
        if (root.TryGetProperty("model", out var m) && m.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
        {
            return new RequestError($"Invalid type for 'model': expected a string, but got {RequestError.Describe(m)} instead.", "model", "invalid_type");
        }
        if (m.ValueKind != JsonValueKind.String || m.GetString() is not { Length: > 0 } name)
        {
            return new RequestError("you must provide a model parameter", "model");
        }
        model = name;
        return null;
    }

    /// <summary>A required non-empty string field, or the error naming it.</summary>
    public static RequestError? RequiredString(JsonElement root, string name, int maxLength = int.MaxValue)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return new RequestError($"Missing required parameter: '{name}'.", name);
        }
        if (value.ValueKind != JsonValueKind.String)
        {
            return new RequestError($"Invalid type for '{name}': expected a string, but got {RequestError.Describe(value)} instead.", name, "invalid_type");
        }
        var length = value.GetString()!.Length;
        if (length == 0) return new RequestError($"Invalid '{name}': empty string. Expected a string with minimum length 1.", name, "empty_string");
        return length > maxLength
            ? new RequestError($"Invalid '{name}': string too long. Expected a string with maximum length {maxLength}, but got a string with length {length} instead.", name, "string_above_max_length")
            : null;
    }

    /// <summary>An optional integer field within [min, max], or the error naming it.</summary>
    public static RequestError? OptionalInt(JsonElement root, string name, int min, int max)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var n))
        {
            return new RequestError($"Invalid type for '{name}': expected an integer, but got {RequestError.Describe(value)} instead.", name, "invalid_type");
        }
        return n < min || n > max ? new RequestError($"Invalid '{name}': {n} is out of range; expected {min} to {max}.", name, "invalid_value") : null;
    }

    /// <summary>An optional number field within [min, max], or the error naming it.</summary>
    public static RequestError? OptionalNumber(JsonElement root, string name, double min, double max)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Number)
        {
            return new RequestError($"Invalid type for '{name}': expected a number, but got {RequestError.Describe(value)} instead.", name, "invalid_type");
        }
        var n = value.GetDouble();
        return n < min || n > max ? new RequestError($"Invalid '{name}': {n} is out of range; expected {min} to {max}.", name, "invalid_value") : null;
    }

    /// <summary>An optional field that must be one of <paramref name="allowed"/>, or the error naming it.</summary>
    public static RequestError? OptionalEnum(JsonElement root, string name, params string[] allowed)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind == JsonValueKind.String && allowed.Contains(value.GetString(), StringComparer.Ordinal)
            ? null
            : new RequestError($"Invalid value for '{name}': expected one of {string.Join(", ", allowed.Select(static a => "'" + a + "'"))}.", name, "invalid_value");
    }

    /// <summary>An optional boolean field, or the error naming it.</summary>
    public static RequestError? OptionalBool(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null)
            ? new RequestError($"Invalid type for '{name}': expected a boolean, but got {RequestError.Describe(value)} instead.", name, "invalid_type")
            : null;

    /// <summary>The first error of several checks, in order.</summary>
    public static RequestError? First(params RequestError?[] checks) => checks.FirstOrDefault(static e => e is not null);
}
