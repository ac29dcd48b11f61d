using System.Globalization;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Routing;

namespace LlmMarketplace.Gateway.ChatCompletions;

/// <summary>A parsed <c>POST /v1/chat/completions</c> body. The document is kept so adapters can forward unknown fields untouched.</summary>
internal sealed class ChatRequest : JsonBodyRequest
{
    private ChatRequest(JsonDocument document, string model, bool stream, bool includeUsage, int n, RouteFilter? route)
        : base(document, model, route)
    {
        Stream = stream;
        IncludeUsage = includeUsage;
        N = n;
    }

    public bool Stream { get; }

    /// <summary>The client asked for the usage chunk (<c>stream_options.include_usage</c>).</summary>
    public bool IncludeUsage { get; }

    public int N { get; }

    public JsonElement Messages => Root.GetProperty("messages");

    public bool TryGet(string name, out JsonElement value) => Root.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    public static ChatRequest? Parse(ReadOnlyMemory<byte> body, out RequestError? error)
    {
        if (JsonRequest.ParseDocument(body, out error, maxDepth: 128) is not { } document) return null;
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
        if (!root.TryGetProperty("model", out var m) || m.ValueKind == JsonValueKind.Null)
        {
            return new RequestError("you must provide a model parameter", "model");
        }
        if (m.ValueKind != JsonValueKind.String)
        {
            return new RequestError($"Invalid type for 'model': expected a string, but got {RequestError.Describe(m)} instead.", "model", "invalid_type");
        }
        if (m.GetString() is not { Length: > 0 } modelName)
        {
            return new RequestError("you must provide a model parameter", "model");
        }
        model = modelName;
        if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind == JsonValueKind.Null)
        {
            return new RequestError("Missing required parameter: 'messages'.", "messages");
        }
        if (messages.ValueKind != JsonValueKind.Array)
        {
            return new RequestError($"Invalid type for 'messages': expected an array of messages, but got {RequestError.Describe(messages)} instead.", "messages", "invalid_type");
        }
        if (messages.GetArrayLength() == 0)
        {
            return new RequestError("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", "messages");
        }
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            if (ValidateMessage(message, index) is { } messageError)
            {
                return messageError;
            }
            index++;
        }
        if (root.TryGetProperty("stream", out var s))
        {
            if (s.ValueKind is JsonValueKind.True or JsonValueKind.False) stream = s.GetBoolean();
            else if (s.ValueKind != JsonValueKind.Null)
                return new RequestError($"Invalid type for 'stream': expected a boolean, but got {RequestError.Describe(s)} instead.", "stream", "invalid_type");
        }
        if (root.TryGetProperty("stream_options", out var so) && so.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
        {
            return new RequestError($"Invalid type for 'stream_options': expected an object, but got {RequestError.Describe(so)} instead.", "stream_options", "invalid_type");
        }
        if (so.ValueKind == JsonValueKind.Object)
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
                return new RequestError("Invalid 'n': expected an integer between 1 and 128.", "n", nn.ValueKind == JsonValueKind.Number ? "invalid_value" : "invalid_type");
            }
        }
        foreach (var numeric in NumericRanges)
        {
            if (root.TryGetProperty(numeric.Name, out var v) && v.ValueKind != JsonValueKind.Null)
            {
                if (v.ValueKind != JsonValueKind.Number)
                {
                    return new RequestError($"Invalid type for '{numeric.Name}': expected {(numeric.Integer ? "an integer" : "a number")}, but got {RequestError.Describe(v)} instead.", numeric.Name, "invalid_type");
                }
                if (numeric.Integer && !v.TryGetInt64(out _))
                {
                    return new RequestError($"Invalid type for '{numeric.Name}': expected an integer, but got a decimal number instead.", numeric.Name, "invalid_type");
                }
                var d = v.GetDouble();
                if (d < numeric.Min || d > numeric.Max)
                {
                    return new RequestError($"Invalid '{numeric.Name}': {d} is out of range; expected a value between {numeric.Min} and {numeric.Max}.", numeric.Name, "invalid_value");
                }
            }
        }
        if (root.TryGetProperty("tools", out var tools) && tools.ValueKind != JsonValueKind.Null)
        {
            if (tools.ValueKind != JsonValueKind.Array)
            {
                return new RequestError($"Invalid type for 'tools': expected an array, but got {RequestError.Describe(tools)} instead.", "tools", "invalid_type");
            }
            var t = 0;
            foreach (var tool in tools.EnumerateArray())
            {
                if (tool.ValueKind != JsonValueKind.Object)
                {
                    return new RequestError($"Invalid type for 'tools[{t}]': expected an object, but got {RequestError.Describe(tool)} instead.", $"tools[{t}]", "invalid_type");
                }
                if (!tool.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                {
                    return new RequestError($"Missing required parameter: 'tools[{t}].type'.", $"tools[{t}].type");
                }
                if (type.ValueEquals("function"u8) &&
                    (!tool.TryGetProperty("function", out var fn) || fn.ValueKind != JsonValueKind.Object || !fn.TryGetProperty("name", out var fnName) || fnName.ValueKind != JsonValueKind.String))
                {
                    return new RequestError($"Missing required parameter: 'tools[{t}].function.name'.", $"tools[{t}].function.name");
                }
                t++;
            }
        }
        if (root.TryGetProperty("tool_choice", out var toolChoice) && toolChoice.ValueKind is not (JsonValueKind.String or JsonValueKind.Object or JsonValueKind.Null))
        {
            return new RequestError($"Invalid type for 'tool_choice': expected a string or an object, but got {RequestError.Describe(toolChoice)} instead.", "tool_choice", "invalid_type");
        }
        if (root.TryGetProperty("stop", out var stop) && stop.ValueKind != JsonValueKind.Null)
        {
            if (stop.ValueKind == JsonValueKind.Array)
            {
                if (stop.GetArrayLength() > 4)
                {
                    return new RequestError("Invalid 'stop': at most 4 stop sequences are allowed.", "stop", "invalid_value");
                }
                if (stop.EnumerateArray().Any(static x => x.ValueKind != JsonValueKind.String))
                {
                    return new RequestError("Invalid type for 'stop': expected a string or an array of strings.", "stop", "invalid_type");
                }
            }
            else if (stop.ValueKind != JsonValueKind.String)
            {
                return new RequestError($"Invalid type for 'stop': expected a string or an array of strings, but got {RequestError.Describe(stop)} instead.", "stop", "invalid_type");
            }
        }
        foreach (var name in (ReadOnlySpan<string>)["user", "service_tier", "reasoning_effort"])
        {
            if (root.TryGetProperty(name, out var v) && v.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
            {
                return new RequestError($"Invalid type for '{name}': expected a string, but got {RequestError.Describe(v)} instead.", name, "invalid_type");
            }
        }
        foreach (var name in (ReadOnlySpan<string>)["logprobs", "parallel_tool_calls", "store"])
        {
            if (root.TryGetProperty(name, out var v) && v.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
            {
                return new RequestError($"Invalid type for '{name}': expected a boolean, but got {RequestError.Describe(v)} instead.", name, "invalid_type");
            }
        }
        foreach (var name in (ReadOnlySpan<string>)["response_format", "metadata", "logit_bias"])
        {
            if (root.TryGetProperty(name, out var v) && v.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
            {
                return new RequestError($"Invalid type for '{name}': expected an object, but got {RequestError.Describe(v)} instead.", name, "invalid_type");
            }
        }
        if (root.TryGetProperty("provider", out var provider) && provider.ValueKind == JsonValueKind.Object)
        {
            route = RouteFilter.FromJson(provider);
        }
        return null;
    }

    private static readonly (string Name, double Min, double Max, bool Integer)[] NumericRanges =
    [
        ("temperature", 0, 2, false),
        ("top_p", 0, 1, false),
        ("presence_penalty", -2, 2, false),
        ("frequency_penalty", -2, 2, false),
        ("max_tokens", 1, int.MaxValue, true),
        ("max_completion_tokens", 1, int.MaxValue, true),
        ("top_logprobs", 0, 20, true),
        ("seed", long.MinValue, long.MaxValue, true),
    ];

    private static RequestError? ValidateMessage(JsonElement message, int index)
    {
        if (message.ValueKind != JsonValueKind.Object)
        {
            return new RequestError($"Invalid type for '{MessagePath(index)}': expected an object, but got {RequestError.Describe(message)} instead.", MessagePath(index), "invalid_type");
        }
        if (!message.TryGetProperty("role", out var role) || role.ValueKind == JsonValueKind.Null)
        {
            return new RequestError($"Missing required parameter: '{MessagePath(index)}.role'.", $"{MessagePath(index)}.role");
        }
        if (role.ValueKind != JsonValueKind.String)
        {
            return new RequestError($"Invalid type for '{MessagePath(index)}.role': expected a string, but got {RequestError.Describe(role)} instead.", $"{MessagePath(index)}.role", "invalid_type");
        }
        var r = role.GetString();
        if (r is not ("system" or "developer" or "user" or "assistant" or "tool" or "function"))
        {
            return new RequestError($"Invalid value: '{r}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", $"{MessagePath(index)}.role", "invalid_value");
        }
        var hasContent = message.TryGetProperty("content", out var content) && content.ValueKind != JsonValueKind.Null;
        if (!hasContent)
        {
            // Only an assistant message that calls tools (or a function) may leave its content out.
            var calls = r == "assistant" &&
                ((message.TryGetProperty("tool_calls", out var tc) && tc.ValueKind == JsonValueKind.Array) ||
                 (message.TryGetProperty("function_call", out var fc) && fc.ValueKind == JsonValueKind.Object) ||
                 (message.TryGetProperty("refusal", out var rf) && rf.ValueKind == JsonValueKind.String) ||
                 (message.TryGetProperty("audio", out var au) && au.ValueKind == JsonValueKind.Object));
            if (!calls)
            {
                return new RequestError($"Missing required parameter: '{MessagePath(index)}.content'.", $"{MessagePath(index)}.content");
            }
        }
        else if (content.ValueKind == JsonValueKind.Array)
        {
            var j = 0;
            foreach (var part in content.EnumerateArray())
            {
                if (part.ValueKind != JsonValueKind.Object)
                {
                    return new RequestError($"Invalid type for '{PartPath(index, j)}': expected an object, but got {RequestError.Describe(part)} instead.", PartPath(index, j), "invalid_type");
                }
                if (!part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                {
                    return new RequestError($"Missing required parameter: '{PartPath(index, j)}.type'.", $"{PartPath(index, j)}.type");
                }
                if (type.ValueEquals("text"u8) && (!part.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String))
                {
                    return new RequestError($"Invalid type for '{PartPath(index, j)}.text': expected a string.", $"{PartPath(index, j)}.text", "invalid_type");
                }
                j++;
            }
        }
        else if (content.ValueKind != JsonValueKind.String)
        {
            return new RequestError($"Invalid type for '{MessagePath(index)}.content': expected a string or an array of content parts, but got {RequestError.Describe(content)} instead.", $"{MessagePath(index)}.content", "invalid_type");
        }
        foreach (var name in (ReadOnlySpan<string>)["name", "tool_call_id"])
        {
            if (message.TryGetProperty(name, out var v) && v.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
            {
                return new RequestError($"Invalid type for '{MessagePath(index)}.{name}': expected a string, but got {RequestError.Describe(v)} instead.", $"{MessagePath(index)}.{name}", "invalid_type");
            }
        }
        if (r == "tool" && (!message.TryGetProperty("tool_call_id", out var id) || id.ValueKind != JsonValueKind.String))
        {
            return new RequestError($"Missing required parameter: '{MessagePath(index)}.tool_call_id'.", $"{MessagePath(index)}.tool_call_id");
        }
        if (message.TryGetProperty("tool_calls", out var toolCalls) && toolCalls.ValueKind is not (JsonValueKind.Array or JsonValueKind.Null))
        {
            return new RequestError($"Invalid type for '{MessagePath(index)}.tool_calls': expected an array, but got {RequestError.Describe(toolCalls)} instead.", $"{MessagePath(index)}.tool_calls", "invalid_type");
        }
        return null;
    }

    // Paths are named only in errors: a valid request builds none.
    private static string MessagePath(int index) => string.Create(CultureInfo.InvariantCulture, $"messages[{index}]");

    private static string PartPath(int index, int part) => string.Create(CultureInfo.InvariantCulture, $"messages[{index}].content[{part}]");
}
