using System.Text.Json.Nodes;
using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Gateway.Responses;

/// <summary>
/// A validated <c>POST /v1/responses</c> body (OpenAI's Responses API) and its translation into an OpenAI chat
/// request. Input items are normalised (a string input becomes one user message item) so they can be stored and
/// replayed by <c>previous_response_id</c>.
/// </summary>
internal sealed class ResponsesRequest
{
    /// <summary>Tool types of OpenAI's hosted tools, which only OpenAI runs: refused with a 400 naming the tool.</summary>
    private static readonly string[] BuiltInTools =
        ["web_search", "web_search_preview", "web_search_preview_2025_03_11", "file_search", "code_interpreter", "computer_use_preview", "computer_use", "image_generation", "mcp", "local_shell", "shell", "apply_patch", "custom"];

    private ResponsesRequest(JsonObject root, string model, JsonArray input)
    {
        Root = root;
        Model = model;
        Input = input;
    }

    public JsonObject Root { get; }

    public string Model { get; }

    /// <summary>The request's own input items, normalised.</summary>
    public JsonArray Input { get; }

    public bool Stream => Root["stream"]?.GetValueKind() == JsonValueKind.True;

    /// <summary><c>store</c> defaults to true, as OpenAI's does.</summary>
    public bool Store => Root["store"]?.GetValueKind() != JsonValueKind.False;

    public string? PreviousResponseId => Root["previous_response_id"]?.GetValueKind() == JsonValueKind.String ? Root["previous_response_id"]!.GetValue<string>() : null;

    public static ResponsesRequest? Parse(ReadOnlySpan<byte> body, out RequestError? error)
    {
        JsonObject? root;
        try
        {
            root = JsonNode.Parse(body, documentOptions: new JsonDocumentOptions { MaxDepth = 128 }) as JsonObject;
        }
        catch (JsonException ex)
        {
            error = new RequestError($"We could not parse the JSON body of your request. ({ex.Message}) The OpenAI API expects a JSON payload.", null);
            return null;
        }
        if (root is null)
        {
            error = new RequestError("The request body must be a JSON object.", null);
            return null;
        }
        using var doc = JsonDocument.Parse(root.ToJsonString());
        error = Validate(doc.RootElement, out var model, out var input);
        return error is null ? new ResponsesRequest(root, model!, input!) : null;
    }

    private static RequestError? Validate(JsonElement root, out string? model, out JsonArray? input)
    {
        model = null;
        input = null;
        if (!root.TryGetProperty("model", out var m) || m.ValueKind != JsonValueKind.String || m.GetString() is not { Length: > 0 } name)
        {
            return new RequestError("Missing required parameter: 'model'.", "model");
        }
        model = name;
        if (!root.TryGetProperty("input", out var rawInput) || rawInput.ValueKind == JsonValueKind.Null)
        {
            return new RequestError("Missing required parameter: 'input'.", "input");
        }
        if (rawInput.ValueKind == JsonValueKind.String)
        {
            input = [new JsonObject { ["type"] = "message", ["role"] = "user", ["content"] = new JsonArray(new JsonObject { ["type"] = "input_text", ["text"] = rawInput.GetString() }) }];
        }
        else if (rawInput.ValueKind == JsonValueKind.Array)
        {
            input = [];
            var i = 0;
            foreach (var item in rawInput.EnumerateArray())
            {
                if (ValidateItem(item, $"input[{i}]") is { } itemError) return itemError;
                var node = JsonNode.Parse(item.GetRawText())!.AsObject();
                if (node["type"] is null) node.Insert(0, "type", "message");
                // Stored as OpenAI lists them: message content as typed parts.
                if (node["type"]!.GetValue<string>() == "message" && node["content"] is JsonValue plain && plain.GetValueKind() == JsonValueKind.String)
                {
                    var partType = node["role"]?.GetValue<string>() == "assistant" ? "output_text" : "input_text";
                    node["content"] = new JsonArray(new JsonObject { ["type"] = partType, ["text"] = plain.GetValue<string>() });
                }
                input.Add(node);
                i++;
            }
            if (i == 0) return new RequestError("Invalid 'input': empty array. Expected an array with minimum length 1.", "input");
        }
        else
        {
            return new RequestError($"Invalid type for 'input': expected a string or an array of input items, but got {ClientProtocolJson.Describe(rawInput)} instead.", "input");
        }
        if (root.TryGetProperty("instructions", out var instructions) && instructions.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
        {
            return new RequestError($"Invalid type for 'instructions': expected a string, but got {ClientProtocolJson.Describe(instructions)} instead.", "instructions");
        }
        foreach (var flag in (string[])["stream", "store", "parallel_tool_calls"])
        {
            if (root.TryGetProperty(flag, out var f) && f.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
            {
                return new RequestError($"Invalid type for '{flag}': expected a boolean, but got {ClientProtocolJson.Describe(f)} instead.", flag);
            }
        }
        foreach (var (numeric, min, max) in (ReadOnlySpan<(string, double, double)>)[("temperature", 0, 2), ("top_p", 0, 1), ("max_output_tokens", 1, int.MaxValue)])
        {
            if (!root.TryGetProperty(numeric, out var v) || v.ValueKind == JsonValueKind.Null) continue;
            if (v.ValueKind != JsonValueKind.Number)
            {
                return new RequestError($"Invalid type for '{numeric}': expected a number, but got {ClientProtocolJson.Describe(v)} instead.", numeric);
            }
            if (v.GetDouble() < min || v.GetDouble() > max)
            {
                return new RequestError($"Invalid '{numeric}': {v.GetDouble()} is out of range; expected a value between {min} and {max}.", numeric);
            }
        }
        if (root.TryGetProperty("previous_response_id", out var prev) && prev.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
        {
            return new RequestError($"Invalid type for 'previous_response_id': expected a string, but got {ClientProtocolJson.Describe(prev)} instead.", "previous_response_id");
        }
        if (root.TryGetProperty("metadata", out var metadata) && metadata.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
        {
            return new RequestError($"Invalid type for 'metadata': expected an object, but got {ClientProtocolJson.Describe(metadata)} instead.", "metadata");
        }
        if (root.TryGetProperty("tools", out var tools) && tools.ValueKind != JsonValueKind.Null)
        {
            if (tools.ValueKind != JsonValueKind.Array)
            {
                return new RequestError($"Invalid type for 'tools': expected an array, but got {ClientProtocolJson.Describe(tools)} instead.", "tools");
            }
            var i = 0;
            foreach (var tool in tools.EnumerateArray())
            {
                var type = tool.ValueKind == JsonValueKind.Object && tool.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                if (type is null)
                {
                    return new RequestError($"Missing required parameter: 'tools[{i}].type'.", $"tools[{i}].type");
                }
                if (type != "function")
                {
                    return new RequestError(BuiltInTools.Contains(type)
                        ? $"The built-in tool '{type}' is not supported by this gateway; only 'function' tools are."
                        : $"Invalid value: '{type}'. Only 'function' tools are supported.", $"tools[{i}].type", "unsupported_tool");
                }
                if (!tool.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String || n.GetString()!.Length == 0)
                {
                    return new RequestError($"Missing required parameter: 'tools[{i}].name'.", $"tools[{i}].name");
                }
                i++;
            }
        }
        if (root.TryGetProperty("tool_choice", out var choice) && choice.ValueKind != JsonValueKind.Null)
        {
            var ok = choice.ValueKind == JsonValueKind.String && choice.GetString() is "auto" or "none" or "required"
                || choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("type", out var ct) && ct.ValueEquals("function") && choice.TryGetProperty("name", out var cn) && cn.ValueKind == JsonValueKind.String;
            if (!ok)
            {
                return new RequestError("Invalid 'tool_choice': expected 'auto', 'none', 'required' or {\"type\": \"function\", \"name\": ...}.", "tool_choice");
            }
        }
        foreach (var objectParam in (string[])["text", "reasoning"])
        {
            if (root.TryGetProperty(objectParam, out var o) && o.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
            {
                return new RequestError($"Invalid type for '{objectParam}': expected an object, but got {ClientProtocolJson.Describe(o)} instead.", objectParam, "invalid_type");
            }
        }
        if (root.TryGetProperty("user", out var user) && user.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
        {
            return new RequestError($"Invalid type for 'user': expected a string, but got {ClientProtocolJson.Describe(user)} instead.", "user", "invalid_type");
        }
        if (root.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.Object && text.TryGetProperty("format", out var format) && format.ValueKind != JsonValueKind.Null)
        {
            var type = format.ValueKind == JsonValueKind.Object && format.TryGetProperty("type", out var ft) && ft.ValueKind == JsonValueKind.String ? ft.GetString() : null;
            if (type is not ("text" or "json_object" or "json_schema"))
            {
                return new RequestError("Invalid 'text.format.type': expected 'text', 'json_object' or 'json_schema'.", "text.format.type");
            }
            if (type == "json_schema" && (!format.TryGetProperty("schema", out var schema) || schema.ValueKind != JsonValueKind.Object))
            {
                return new RequestError("Missing required parameter: 'text.format.schema'.", "text.format.schema");
            }
            if (type == "json_schema" && (!format.TryGetProperty("name", out var sn) || sn.ValueKind != JsonValueKind.String))
            {
                return new RequestError("Missing required parameter: 'text.format.name'.", "text.format.name");
            }
        }
        return null;
    }

    private static RequestError? ValidateItem(JsonElement item, string path)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            return new RequestError($"Invalid type for '{path}': expected an object, but got {ClientProtocolJson.Describe(item)} instead.", path);
        }
        if (item.TryGetProperty("type", out var t) && t.ValueKind != JsonValueKind.String)
        {
            return new RequestError($"Invalid type for '{path}.type': expected a string, but got {ClientProtocolJson.Describe(t)} instead.", $"{path}.type", "invalid_type");
        }
        var type = t.ValueKind == JsonValueKind.String ? t.GetString() : "message";
        switch (type)
        {
            case "message":
                if (!item.TryGetProperty("role", out var role) || ClientProtocolJson.StringOf(role) is not ("user" or "assistant" or "system" or "developer"))
                {
                    return new RequestError($"Invalid '{path}.role': expected one of 'user', 'assistant', 'system' or 'developer'.", $"{path}.role");
                }
                if (!item.TryGetProperty("content", out var content) || content.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
                {
                    return new RequestError($"Missing required parameter: '{path}.content'.", $"{path}.content");
                }
                if (content.ValueKind == JsonValueKind.Array)
                {
                    var j = 0;
                    foreach (var part in content.EnumerateArray())
                    {
                        var partType = part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var pt) ? ClientProtocolJson.StringOf(pt) : null;
                        if (partType is not ("input_text" or "output_text" or "input_image" or "refusal"))
                        {
                            return new RequestError($"Invalid '{path}.content[{j}].type': '{partType}' is not supported; expected 'input_text', 'input_image' or 'output_text'.", $"{path}.content[{j}].type");
                        }
                        if (partType is "input_text" or "output_text" && (!part.TryGetProperty("text", out var partText) || partText.ValueKind != JsonValueKind.String))
                        {
                            return new RequestError($"Missing required parameter: '{path}.content[{j}].text'.", $"{path}.content[{j}].text");
                        }
                        if (partType == "input_image" && (!part.TryGetProperty("image_url", out var url) || url.ValueKind != JsonValueKind.String))
                        {
                            return new RequestError($"Missing required parameter: '{path}.content[{j}].image_url' (file_id images are not supported).", $"{path}.content[{j}].image_url");
                        }
                        j++;
                    }
                }
                return null;
            case "function_call":
                foreach (var field in (string[])["call_id", "name", "arguments"])
                {
                    if (!item.TryGetProperty(field, out var v) || v.ValueKind != JsonValueKind.String)
                        return new RequestError($"Missing required parameter: '{path}.{field}'.", $"{path}.{field}");
                }
                return null;
            case "function_call_output":
                if (!item.TryGetProperty("call_id", out var id) || id.ValueKind != JsonValueKind.String)
                    return new RequestError($"Missing required parameter: '{path}.call_id'.", $"{path}.call_id");
                if (!item.TryGetProperty("output", out var output) || output.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
                    return new RequestError($"Missing required parameter: '{path}.output'.", $"{path}.output");
                return null;
            case "reasoning":
                return null;
            default:
                return new RequestError($"Invalid '{path}.type': input items of type '{type}' are not supported; expected 'message', 'function_call' or 'function_call_output'.", $"{path}.type");
        }
    }

    /// <summary>
    /// The OpenAI chat request for this call: <paramref name="history"/> (the stored items of the previous responses)
    /// before the input, the instructions as the first system message.
    /// </summary>
    public JsonObject ToChatRequest(JsonArray? history)
    {
        var messages = new JsonArray();
        if (Root["instructions"]?.GetValueKind() == JsonValueKind.String)
        {
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = Root["instructions"]!.GetValue<string>() });
        }
        if (history is not null) AppendItems(messages, history);
        AppendItems(messages, Input);

        var chat = new JsonObject { ["model"] = Model, ["messages"] = messages };
        if (Stream)
        {
            chat["stream"] = true;
            chat["stream_options"] = new JsonObject { ["include_usage"] = true };
        }
        CopyIfPresent("temperature", "temperature");
        CopyIfPresent("top_p", "top_p");
        CopyIfPresent("max_output_tokens", "max_completion_tokens");
        CopyIfPresent("parallel_tool_calls", "parallel_tool_calls");
        CopyIfPresent("user", "user");
        CopyIfPresent("provider", "provider");
        if (Root["tools"] is JsonArray { Count: > 0 } tools)
        {
            var chatTools = new JsonArray();
            foreach (var tool in tools)
            {
                var function = new JsonObject { ["name"] = tool!["name"]!.GetValue<string>() };
                if (tool["description"] is { } d) function["description"] = d.DeepClone();
                function["parameters"] = tool["parameters"]?.DeepClone() ?? new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() };
                if (tool["strict"] is { } s) function["strict"] = s.DeepClone();
                chatTools.Add(new JsonObject { ["type"] = "function", ["function"] = function });
            }
            chat["tools"] = chatTools;
        }
        if (Root["tool_choice"] is { } choice)
        {
            chat["tool_choice"] = choice.GetValueKind() == JsonValueKind.Object
                ? new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = choice["name"]!.GetValue<string>() } }
                : choice.DeepClone();
        }
        if (Root["text"]?["format"] is JsonObject format)
        {
            switch (format["type"]?.GetValue<string>())
            {
                case "json_object":
                    chat["response_format"] = new JsonObject { ["type"] = "json_object" };
                    break;
                case "json_schema":
                    var schema = new JsonObject { ["name"] = format["name"]!.DeepClone(), ["schema"] = format["schema"]!.DeepClone() };
                    if (format["strict"] is { } strict) schema["strict"] = strict.DeepClone();
                    if (format["description"] is { } description) schema["description"] = description.DeepClone();
                    chat["response_format"] = new JsonObject { ["type"] = "json_schema", ["json_schema"] = schema };
                    break;
            }
        }
        return chat;

        void CopyIfPresent(string from, string to)
        {
            if (Root[from] is { } v && v.GetValueKind() != JsonValueKind.Null) chat[to] = v.DeepClone();
        }
    }

    /// <summary>Appends Responses items as chat messages; consecutive function calls form one assistant message.</summary>
    internal static void AppendItems(JsonArray messages, JsonArray items)
    {
        foreach (var node in items)
        {
            if (node is not JsonObject item) continue;
            switch (item["type"]?.GetValue<string>() ?? "message")
            {
                case "message":
                    messages.Add(new JsonObject { ["role"] = item["role"]!.GetValue<string>(), ["content"] = ChatContent(item["content"]!) });
                    break;
                case "function_call":
                    var call = new JsonObject
                    {
                        ["id"] = item["call_id"]!.GetValue<string>(),
                        ["type"] = "function",
                        ["function"] = new JsonObject { ["name"] = item["name"]!.GetValue<string>(), ["arguments"] = item["arguments"]!.GetValue<string>() },
                    };
                    if (messages.Count > 0 && messages[^1] is JsonObject last && last["role"]?.GetValue<string>() == "assistant" && last["tool_calls"] is JsonArray calls)
                    {
                        calls.Add(call);
                    }
                    else
                    {
                        messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = null, ["tool_calls"] = new JsonArray(call) });
                    }
                    break;
                case "function_call_output":
                    var output = item["output"]!;
                    messages.Add(new JsonObject
                    {
                        ["role"] = "tool",
                        ["tool_call_id"] = item["call_id"]!.GetValue<string>(),
                        ["content"] = output.GetValueKind() == JsonValueKind.String ? output.GetValue<string>() : ChatContent(output),
                    });
                    break;
            }
        }
    }

    private static JsonNode ChatContent(JsonNode content)
    {
        if (content.GetValueKind() == JsonValueKind.String) return content.GetValue<string>();
        var parts = new JsonArray();
        var allText = true;
        foreach (var part in content.AsArray())
        {
            var type = part?["type"]?.GetValue<string>();
            if (type is "input_text" or "output_text" or "refusal")
            {
                parts.Add(new JsonObject { ["type"] = "text", ["text"] = (part!["text"] ?? part["refusal"])?.GetValue<string>() ?? "" });
            }
            else if (type == "input_image")
            {
                allText = false;
                var image = new JsonObject { ["url"] = part!["image_url"]!.GetValue<string>() };
                if (part["detail"] is { } detail) image["detail"] = detail.DeepClone();
                parts.Add(new JsonObject { ["type"] = "image_url", ["image_url"] = image });
            }
        }
        // Assistant turns and plain text read best as one string for every upstream.
        if (allText) return string.Concat(parts.Select(static p => p!["text"]!.GetValue<string>()));
        return parts;
    }
}
