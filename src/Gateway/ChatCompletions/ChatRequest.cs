using System.Text.Json;

namespace LlmMarketplace.Gateway.ChatCompletions;

/// <summary>A parsed <c>POST /v1/chat/completions</c> body. The document is kept so adapters can forward unknown fields untouched.</summary>
internal sealed class ChatRequest : IDisposable
{
    private ChatRequest(JsonDocument document, string model, bool stream, bool includeUsage, int n, RouteFilter? route)
    {
        Document = document;
        Model = model;
        Stream = stream;
        IncludeUsage = includeUsage;
        N = n;
        Route = route;
    }

    public JsonDocument Document { get; }

    public JsonElement Root => Document.RootElement;

    public string Model { get; }

    public bool Stream { get; }

    /// <summary>The client asked for the usage chunk (<c>stream_options.include_usage</c>).</summary>
    public bool IncludeUsage { get; }

    public int N { get; }

    /// <summary>Narrowing of the deployments from the body's <c>provider</c> extension (OpenRouter style).</summary>
    public RouteFilter? Route { get; }

    public JsonElement Messages => Root.GetProperty("messages");

    public bool TryGet(string name, out JsonElement value) => Root.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    public static ChatRequest? Parse(ReadOnlyMemory<byte> body, out RequestError? error)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 128 });
        }
        catch (JsonException ex)
        {
            error = new RequestError($"We could not parse the JSON body of your request. ({ex.Message}) The OpenAI API expects a JSON payload.", null);
            return null;
        }

        var root = document.RootElement;
        error = Validate(root, out var model, out var stream, out var includeUsage, out var n, out var route);
        if (error is not null)
        {
            document.Dispose();
            return null;
        }
        return new ChatRequest(document, model!, stream, includeUsage, n, route);
    }

    private static RequestError? Validate(JsonElement root, out string? model, out bool stream, out bool includeUsage, out int n, out RouteFilter? route)
    {
        model = null;
        stream = false;
        includeUsage = false;
        n = 1;
        route = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return new RequestError("The request body must be a JSON object.", null);
        }
        if (!root.TryGetProperty("model", out var m) || m.ValueKind != JsonValueKind.String || m.GetString() is not { Length: > 0 } modelName)
        {
            return new RequestError("you must provide a model parameter", "model");
        }
        model = modelName;
        if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
        {
            return new RequestError("Missing required parameter: 'messages'.", "messages");
        }
        if (messages.GetArrayLength() == 0)
        {
            return new RequestError("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", "messages");
        }
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object)
            {
                return new RequestError($"Invalid type for 'messages[{index}]': expected an object, but got {Describe(message)} instead.", $"messages[{index}]");
            }
            if (!message.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
            {
                return new RequestError($"Missing required parameter: 'messages[{index}].role'.", $"messages[{index}].role");
            }
            var r = role.GetString();
            if (r is not ("system" or "developer" or "user" or "assistant" or "tool" or "function"))
            {
                return new RequestError($"Invalid value: '{r}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", $"messages[{index}].role");
            }
            index++;
        }
        if (root.TryGetProperty("stream", out var s))
        {
            if (s.ValueKind is JsonValueKind.True or JsonValueKind.False) stream = s.GetBoolean();
            else if (s.ValueKind != JsonValueKind.Null)
                return new RequestError($"Invalid type for 'stream': expected a boolean, but got {Describe(s)} instead.", "stream");
        }
        if (root.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object)
        {
            if (!stream)
            {
                return new RequestError("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options");
            }
            if (so.TryGetProperty("include_usage", out var iu) && iu.ValueKind == JsonValueKind.True)
            {
                includeUsage = true;
            }
        }
        if (root.TryGetProperty("n", out var nn) && nn.ValueKind != JsonValueKind.Null)
        {
            if (nn.ValueKind != JsonValueKind.Number || !nn.TryGetInt32(out n) || n < 1 || n > 128)
            {
                return new RequestError("Invalid 'n': expected an integer between 1 and 128.", "n");
            }
        }
        foreach (var numeric in NumericRanges)
        {
            if (root.TryGetProperty(numeric.Name, out var v) && v.ValueKind != JsonValueKind.Null)
            {
                if (v.ValueKind != JsonValueKind.Number)
                {
                    return new RequestError($"Invalid type for '{numeric.Name}': expected a number, but got {Describe(v)} instead.", numeric.Name);
                }
                var d = v.GetDouble();
                if (d < numeric.Min || d > numeric.Max)
                {
                    return new RequestError($"Invalid '{numeric.Name}': {d} is out of range; expected a value between {numeric.Min} and {numeric.Max}.", numeric.Name);
                }
            }
        }
        if (root.TryGetProperty("tools", out var tools) && tools.ValueKind != JsonValueKind.Null)
        {
            if (tools.ValueKind != JsonValueKind.Array)
            {
                return new RequestError($"Invalid type for 'tools': expected an array, but got {Describe(tools)} instead.", "tools");
            }
        }
        if (root.TryGetProperty("provider", out var provider) && provider.ValueKind == JsonValueKind.Object)
        {
            route = RouteFilter.FromJson(provider);
        }
        return null;
    }

    private static readonly (string Name, double Min, double Max)[] NumericRanges =
    [
        ("temperature", 0, 2),
        ("top_p", 0, 1),
        ("presence_penalty", -2, 2),
        ("frequency_penalty", -2, 2),
        ("max_tokens", 1, int.MaxValue),
        ("max_completion_tokens", 1, int.MaxValue),
        ("top_logprobs", 0, 20),
    ];

    internal static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };

    public void Dispose() => Document.Dispose();
}

/// <summary>A client error in the request, with the offending parameter.</summary>
internal sealed record RequestError(string Message, string? Param, string? Code = null);

/// <summary>
/// Narrows the deployments a request may use: <c>x-gateway-route: a,b</c> or the body's
/// <c>provider: {"only": [...], "ignore": [...], "order": [...]}</c>. Entries match a provider name or a deployment id.
/// </summary>
internal sealed record RouteFilter(IReadOnlyList<string>? Only, IReadOnlyList<string>? Ignore, IReadOnlyList<string>? Order)
{
    public static RouteFilter? FromHeader(string? header)
    {
        if (string.IsNullOrWhiteSpace(header)) return null;
        var items = header.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return items.Length == 0 ? null : new RouteFilter(items, null, items);
    }

    public static RouteFilter FromJson(JsonElement provider)
    {
        static List<string>? Read(JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
                ? v.EnumerateArray().Where(static x => x.ValueKind == JsonValueKind.String).Select(static x => x.GetString()!).ToList()
                : null;
        return new RouteFilter(Read(provider, "only"), Read(provider, "ignore"), Read(provider, "order"));
    }
}
