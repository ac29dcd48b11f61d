using System.Text.Json.Nodes;
using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Gateway.Messages;

/// <summary>A validated <c>POST /v1/messages</c> body (Anthropic's Messages API) and its translation into an OpenAI chat request.</summary>
internal sealed class MessagesRequest
{
    private MessagesRequest(JsonObject root, string model)
    {
        Root = root;
        Model = model;
    }

    public JsonObject Root { get; }

    public string Model { get; }

    public bool Stream => Root["stream"]?.GetValueKind() == JsonValueKind.True;

    /// <param name="countOnly">For <c>count_tokens</c>, where <c>max_tokens</c> is not required.</param>
    public static MessagesRequest? Parse(ReadOnlySpan<byte> body, bool countOnly, out RequestError? error)
    {
        JsonObject? root;
        try
        {
            root = JsonNode.Parse(body, documentOptions: new JsonDocumentOptions { MaxDepth = 128 }) as JsonObject;
        }
        catch (JsonException ex)
        {
            error = new RequestError($"The request body is not valid JSON: {ex.Message}", null);
            return null;
        }
        if (root is null)
        {
            error = new RequestError("The request body must be a JSON object.", null);
            return null;
        }
        using var doc = JsonDocument.Parse(root.ToJsonString());
        error = Validate(doc.RootElement, countOnly);
        return error is null ? new MessagesRequest(root, doc.RootElement.GetProperty("model").GetString()!) : null;
    }

    private static RequestError? Validate(JsonElement root, bool countOnly)
    {
        if (!root.TryGetProperty("model", out var m) || m.ValueKind != JsonValueKind.String || m.GetString()!.Length == 0)
            return new RequestError("model: Field required", "model");
        if (!countOnly)
        {
            if (!root.TryGetProperty("max_tokens", out var mt))
                return new RequestError("max_tokens: Field required", "max_tokens");
            if (mt.ValueKind != JsonValueKind.Number || !mt.TryGetInt32(out var max) || max < 1)
                return new RequestError("max_tokens: Input should be a valid integer greater than or equal to 1", "max_tokens");
        }
        if (!root.TryGetProperty("messages", out var messages))
            return new RequestError("messages: Field required", "messages");
        if (messages.ValueKind != JsonValueKind.Array)
            return new RequestError($"messages: Input should be a valid list, not {ClientProtocolJson.Describe(messages)}", "messages");
        var i = 0;
        foreach (var message in messages.EnumerateArray())
        {
            var path = $"messages.{i}";
            if (message.ValueKind != JsonValueKind.Object)
                return new RequestError($"{path}: Input should be a valid dictionary", path);
            if (!message.TryGetProperty("role", out var role) || ClientProtocolJson.StringOf(role) is not ("user" or "assistant"))
                return new RequestError($"{path}.role: Input should be 'user' or 'assistant'", $"{path}.role");
            if (!message.TryGetProperty("content", out var content) || content.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
                return new RequestError($"{path}.content: Field required (a string or a list of content blocks)", $"{path}.content");
            if (content.ValueKind == JsonValueKind.Array && ValidateBlocks(content, $"{path}.content") is { } blockError) return blockError;
            i++;
        }
        if (i == 0) return new RequestError("messages: at least one message is required", "messages");
        if (root.TryGetProperty("system", out var system) && system.ValueKind is not (JsonValueKind.String or JsonValueKind.Array or JsonValueKind.Null))
            return new RequestError("system: Input should be a string or a list of text blocks", "system");
        if (system.ValueKind == JsonValueKind.Array)
        {
            var j = 0;
            foreach (var block in system.EnumerateArray())
            {
                if (block.ValueKind != JsonValueKind.Object || !block.TryGetProperty("type", out var t) || !t.ValueEquals("text") || !block.TryGetProperty("text", out var tx) || tx.ValueKind != JsonValueKind.String)
                    return new RequestError($"system.{j}: Input should be a text block", $"system.{j}");
                j++;
            }
        }
        foreach (var (numeric, min, max) in (ReadOnlySpan<(string, double, double)>)[("temperature", 0, 1), ("top_p", 0, 1), ("top_k", 0, int.MaxValue)])
        {
            if (!root.TryGetProperty(numeric, out var v) || v.ValueKind == JsonValueKind.Null) continue;
            if (v.ValueKind != JsonValueKind.Number)
                return new RequestError($"{numeric}: Input should be a valid number", numeric);
            if (v.GetDouble() < min || v.GetDouble() > max)
                return new RequestError($"{numeric}: Input should be between {min} and {max}", numeric);
        }
        if (root.TryGetProperty("stop_sequences", out var stops) && stops.ValueKind != JsonValueKind.Null &&
            (stops.ValueKind != JsonValueKind.Array || stops.EnumerateArray().Any(static s => s.ValueKind != JsonValueKind.String)))
            return new RequestError("stop_sequences: Input should be a list of strings", "stop_sequences");
        foreach (var objectField in (string[])["metadata", "thinking"])
        {
            if (root.TryGetProperty(objectField, out var o) && o.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
                return new RequestError($"{objectField}: Input should be a valid dictionary", objectField);
        }
        if (root.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object &&
            metadata.TryGetProperty("user_id", out var userId) && userId.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
            return new RequestError("metadata.user_id: Input should be a valid string", "metadata.user_id");
        if (root.TryGetProperty("stream", out var stream) && stream.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
            return new RequestError("stream: Input should be a valid boolean", "stream");
        if (root.TryGetProperty("tools", out var tools) && tools.ValueKind != JsonValueKind.Null)
        {
            if (tools.ValueKind != JsonValueKind.Array) return new RequestError("tools: Input should be a valid list", "tools");
            var j = 0;
            foreach (var tool in tools.EnumerateArray())
            {
                if (tool.ValueKind != JsonValueKind.Object || !tool.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String)
                    return new RequestError($"tools.{j}.name: Field required", $"tools.{j}.name");
                if (tool.TryGetProperty("type", out var tt) && tt.ValueKind == JsonValueKind.String && tt.GetString() is { } type && type != "custom")
                    return new RequestError($"tools.{j}.type: the server tool '{type}' is not supported by this gateway; only client tools with an input_schema are.", $"tools.{j}.type");
                if (!tool.TryGetProperty("input_schema", out var schema) || schema.ValueKind != JsonValueKind.Object)
                    return new RequestError($"tools.{j}.input_schema: Field required", $"tools.{j}.input_schema");
                j++;
            }
        }
        if (root.TryGetProperty("tool_choice", out var choice) && choice.ValueKind != JsonValueKind.Null)
        {
            var type = choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("type", out var ct) ? ClientProtocolJson.StringOf(ct) : null;
            if (type is not ("auto" or "any" or "tool" or "none"))
                return new RequestError("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'", "tool_choice.type");
            if (type == "tool" && (!choice.TryGetProperty("name", out var cn) || cn.ValueKind != JsonValueKind.String))
                return new RequestError("tool_choice.name: Field required", "tool_choice.name");
        }
        return null;
    }

    private static RequestError? ValidateBlocks(JsonElement blocks, string path)
    {
        var j = 0;
        foreach (var block in blocks.EnumerateArray())
        {
            var p = $"{path}.{j}";
            var type = block.ValueKind == JsonValueKind.Object && block.TryGetProperty("type", out var t) ? ClientProtocolJson.StringOf(t) : null;
            switch (type)
            {
                case "text":
                    if (!block.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                        return new RequestError($"{p}.text: Field required", $"{p}.text");
                    break;
                case "image":
                    if (!block.TryGetProperty("source", out var source) || source.ValueKind != JsonValueKind.Object ||
                        !source.TryGetProperty("type", out var st) || ClientProtocolJson.StringOf(st) is not ("base64" or "url"))
                        return new RequestError($"{p}.source: expected a base64 or url image source", $"{p}.source");
                    break;
                case "tool_use":
                    if (!block.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String || !block.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String)
                        return new RequestError($"{p}: tool_use blocks need an id and a name", p);
                    break;
                case "tool_result":
                    if (!block.TryGetProperty("tool_use_id", out var tid) || tid.ValueKind != JsonValueKind.String)
                        return new RequestError($"{p}.tool_use_id: Field required", $"{p}.tool_use_id");
                    break;
                case "thinking" or "redacted_thinking":
                    break;
                default:
                    return new RequestError($"{p}.type: content blocks of type '{type}' are not supported; expected 'text', 'image', 'tool_use' or 'tool_result'", $"{p}.type");
            }
            j++;
        }
        return null;
    }

    /// <summary>The OpenAI chat request for this call.</summary>
    public JsonObject ToChatRequest()
    {
        var messages = new JsonArray();
        switch (Root["system"])
        {
            case JsonValue s when s.GetValueKind() == JsonValueKind.String:
                messages.Add(new JsonObject { ["role"] = "system", ["content"] = s.GetValue<string>() });
                break;
            case JsonArray blocks when blocks.Count > 0:
                messages.Add(new JsonObject { ["role"] = "system", ["content"] = string.Join("\n\n", blocks.Select(static b => b!["text"]!.GetValue<string>())) });
                break;
        }
        foreach (var message in Root["messages"]!.AsArray().OfType<JsonObject>())
        {
            var role = message["role"]!.GetValue<string>();
            var content = message["content"]!;
            if (content.GetValueKind() == JsonValueKind.String)
            {
                messages.Add(new JsonObject { ["role"] = role, ["content"] = content.GetValue<string>() });
                continue;
            }
            var parts = new JsonArray();
            var toolCalls = new JsonArray();
            foreach (var block in content.AsArray().OfType<JsonObject>())
            {
                switch (block["type"]!.GetValue<string>())
                {
                    case "text":
                        parts.Add(new JsonObject { ["type"] = "text", ["text"] = block["text"]!.GetValue<string>() });
                        break;
                    case "image":
                        var source = block["source"]!;
                        var url = source["type"]!.GetValue<string>() == "url"
                            ? source["url"]?.GetValue<string>() ?? ""
                            : $"data:{source["media_type"]?.GetValue<string>() ?? "image/png"};base64,{source["data"]?.GetValue<string>()}";
                        parts.Add(new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = url } });
                        break;
                    case "tool_use":
                        toolCalls.Add(new JsonObject
                        {
                            ["id"] = block["id"]!.GetValue<string>(),
                            ["type"] = "function",
                            ["function"] = new JsonObject
                            {
                                ["name"] = block["name"]!.GetValue<string>(),
                                ["arguments"] = (block["input"] ?? new JsonObject()).ToJsonString(),
                            },
                        });
                        break;
                    case "tool_result":
                        // Tool results answer the assistant's calls: they come first, as tool messages.
                        messages.Add(new JsonObject
                        {
                            ["role"] = "tool",
                            ["tool_call_id"] = block["tool_use_id"]!.GetValue<string>(),
                            ["content"] = ToolResultText(block),
                        });
                        break;
                }
            }
            if (role == "assistant")
            {
                var text = string.Concat(parts.Select(static p => p!["text"]?.GetValue<string>() ?? ""));
                var assistant = new JsonObject { ["role"] = "assistant", ["content"] = text.Length > 0 ? text : null };
                if (toolCalls.Count > 0) assistant["tool_calls"] = toolCalls;
                if (text.Length > 0 || toolCalls.Count > 0) messages.Add(assistant);
            }
            else if (parts.Count > 0)
            {
                messages.Add(new JsonObject
                {
                    ["role"] = "user",
                    ["content"] = parts.All(static p => p!["type"]!.GetValue<string>() == "text")
                        ? string.Join("\n", parts.Select(static p => p!["text"]!.GetValue<string>()))
                        : parts,
                });
            }
        }

        var chat = new JsonObject { ["model"] = Model, ["messages"] = messages };
        if (Root["max_tokens"] is { } maxTokens) chat["max_tokens"] = maxTokens.DeepClone();
        if (Stream)
        {
            chat["stream"] = true;
            chat["stream_options"] = new JsonObject { ["include_usage"] = true };
        }
        if (Root["temperature"] is { } temperature && temperature.GetValueKind() != JsonValueKind.Null) chat["temperature"] = temperature.DeepClone();
        if (Root["top_p"] is { } topP && topP.GetValueKind() != JsonValueKind.Null) chat["top_p"] = topP.DeepClone();
        if (Root["stop_sequences"] is JsonArray { Count: > 0 } stops) chat["stop"] = stops.DeepClone();
        if (Root["metadata"]?["user_id"] is JsonValue user && user.GetValueKind() == JsonValueKind.String) chat["user"] = user.GetValue<string>();
        if (Root["provider"] is JsonObject provider) chat["provider"] = provider.DeepClone();
        if (Root["tools"] is JsonArray { Count: > 0 } tools)
        {
            chat["tools"] = new JsonArray(tools.OfType<JsonObject>().Select(static tool =>
            {
                var function = new JsonObject { ["name"] = tool["name"]!.GetValue<string>() };
                if (tool["description"] is { } d) function["description"] = d.DeepClone();
                function["parameters"] = tool["input_schema"]!.DeepClone();
                return (JsonNode)new JsonObject { ["type"] = "function", ["function"] = function };
            }).ToArray());
        }
        if (Root["tool_choice"] is JsonObject choice)
        {
            chat["tool_choice"] = choice["type"]!.GetValue<string>() switch
            {
                "any" => "required",
                "none" => "none",
                "tool" => new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = choice["name"]!.GetValue<string>() } },
                _ => "auto",
            };
            if (choice["disable_parallel_tool_use"]?.GetValueKind() == JsonValueKind.True && chat["tools"] is not null) chat["parallel_tool_calls"] = false;
        }
        return chat;
    }

    private static string ToolResultText(JsonObject block)
    {
        var content = block["content"];
        var text = content switch
        {
            null => "",
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            JsonArray parts => string.Join("\n", parts.OfType<JsonObject>().Where(static p => p["type"]?.GetValue<string>() == "text").Select(static p => p["text"]!.GetValue<string>())),
            _ => content.ToJsonString(),
        };
        return block["is_error"]?.GetValueKind() == JsonValueKind.True ? "Error: " + text : text;
    }
}
