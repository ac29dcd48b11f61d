using System.Buffers;
using System.Text.Json.Nodes;
using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Embeddings;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Streaming;

namespace LlmMarketplace.Gateway.Providers;

/// <summary>
/// Cohere's v2 API (<c>{BaseUrl}/v2/chat</c>, <c>/v2/embed</c>; rerank is the rerank operation's), with a bearer key.
/// Its chat messages and tools are close to OpenAI's; answers carry <c>message.content[]</c> parts and usage as
/// <c>billed_units</c> (what Cohere charges) and <c>tokens</c>.
/// </summary>
internal sealed class CohereAdapter : IProviderAdapter
{
    public static readonly CohereAdapter Instance = new();

    public HttpRequestMessage CreateChatRequest(RoutableDeployment deployment, ChatRequest request) =>
        Create(deployment, "/v2/chat", BuildChatRequest(request, deployment.Config.UpstreamModel));

    public HttpRequestMessage CreateEmbeddingsRequest(RoutableDeployment deployment, EmbeddingsRequest request)
    {
        var texts = new JsonArray();
        foreach (var text in request.Texts ?? throw new NotSupportedException("Cohere embeds text, not token arrays.")) texts.Add(text);
        var body = new JsonObject
        {
            ["model"] = deployment.Config.UpstreamModel,
            ["texts"] = texts,
            // Cohere's extension, passed on when the client sent it; documents are the common case of an OpenAI-style call.
            ["input_type"] = request.Root.TryGetProperty("input_type", out var inputType) && inputType.ValueKind == JsonValueKind.String ? inputType.GetString() : "search_document",
            ["embedding_types"] = new JsonArray("float"),
        };
        if (request.Root.TryGetProperty("dimensions", out var dims) && dims.ValueKind == JsonValueKind.Number) body["output_dimension"] = dims.GetInt32();
        return Create(deployment, "/v2/embed", body);
    }

    /// <summary>A JSON POST to <c>{BaseUrl}{path}</c> with Cohere's bearer key and the provider's extra headers.</summary>
    internal static HttpRequestMessage Create(RoutableDeployment deployment, string path, JsonObject body)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, deployment.Provider.BasePath + path)
        {
            Content = new ByteArrayContent(JsonNodes.ToUtf8(body)),
            Version = System.Net.HttpVersion.Version11,
        };
        message.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        if (deployment.Provider.Config.ApiKey is { Length: > 0 } key)
        {
            message.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
        }
        foreach (var (name, value) in deployment.Provider.Config.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }
        return message;
    }

    internal static JsonObject BuildChatRequest(ChatRequest request, string upstreamModel)
    {
        var messages = new JsonArray();
        foreach (var message in request.Messages.EnumerateArray())
        {
            var role = message.GetProperty("role").GetString();
            message.TryGetProperty("content", out var content);
            switch (role)
            {
                case "system" or "developer":
                    messages.Add(new JsonObject { ["role"] = "system", ["content"] = AnthropicAdapter.TextOf(content) });
                    break;
                case "user":
                    // Text, or OpenAI-style parts (text and image_url), which Cohere's v2 messages take as they are.
                    messages.Add(new JsonObject { ["role"] = "user", ["content"] = JsonNode.Parse(content.GetRawText()) });
                    break;
                case "assistant":
                    var assistant = new JsonObject { ["role"] = "assistant" };
                    var text = AnthropicAdapter.TextOf(content);
                    if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0)
                    {
                        var toolCalls = new JsonArray();
                        foreach (var call in calls.EnumerateArray())
                        {
                            var fn = call.GetProperty("function");
                            toolCalls.Add(new JsonObject
                            {
                                ["id"] = call.TryGetProperty("id", out var id) ? id.GetString() : null,
                                ["type"] = "function",
                                ["function"] = new JsonObject
                                {
                                    ["name"] = fn.GetProperty("name").GetString(),
                                    ["arguments"] = fn.TryGetProperty("arguments", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : "{}",
                                },
                            });
                        }
                        assistant["tool_calls"] = toolCalls;
                        if (text.Length > 0) assistant["tool_plan"] = text;
                    }
                    else
                    {
                        assistant["content"] = text;
                    }
                    messages.Add(assistant);
                    break;
                case "tool" or "function":
                    messages.Add(new JsonObject
                    {
                        ["role"] = "tool",
                        ["tool_call_id"] = message.TryGetProperty("tool_call_id", out var tid) ? tid.GetString() : null,
                        ["content"] = AnthropicAdapter.TextOf(content),
                    });
                    break;
            }
        }
        var body = new JsonObject { ["model"] = upstreamModel, ["messages"] = messages };
        if (request.Stream) body["stream"] = true;
        if (request.TryGet("tools", out var tools) && tools.ValueKind == JsonValueKind.Array && tools.GetArrayLength() > 0)
        {
            body["tools"] = JsonNode.Parse(tools.GetRawText());
        }
        if (request.TryGet("tool_choice", out var choice) && choice.ValueKind == JsonValueKind.String)
        {
            // Cohere knows REQUIRED and NONE; "auto" is its default.
            switch (choice.GetString())
            {
                case "required": body["tool_choice"] = "REQUIRED"; break;
                case "none": body["tool_choice"] = "NONE"; break;
            }
        }
        if (request.TryGet("temperature", out var t) && t.ValueKind == JsonValueKind.Number) body["temperature"] = t.GetDouble();
        if (request.TryGet("top_p", out var p) && p.ValueKind == JsonValueKind.Number) body["p"] = p.GetDouble();
        if (request.TryGet("max_completion_tokens", out var mct) && mct.ValueKind == JsonValueKind.Number) body["max_tokens"] = mct.GetInt32();
        else if (request.TryGet("max_tokens", out var mt) && mt.ValueKind == JsonValueKind.Number) body["max_tokens"] = mt.GetInt32();
        if (request.TryGet("seed", out var seed) && seed.ValueKind == JsonValueKind.Number && seed.TryGetInt64(out var s)) body["seed"] = s;
        if (request.TryGet("frequency_penalty", out var fp) && fp.ValueKind == JsonValueKind.Number) body["frequency_penalty"] = fp.GetDouble();
        if (request.TryGet("presence_penalty", out var pp) && pp.ValueKind == JsonValueKind.Number) body["presence_penalty"] = pp.GetDouble();
        if (request.TryGet("stop", out var stop))
        {
            body["stop_sequences"] = ChatTranslation.StopSequences(stop);
        }
        if (request.TryGet("response_format", out var format) && format.ValueKind == JsonValueKind.Object && OpenAIAdapter.Str(format, "type") is { } formatType)
        {
            if (formatType == "json_object") body["response_format"] = new JsonObject { ["type"] = "json_object" };
            else if (formatType == "json_schema" && format.TryGetProperty("json_schema", out var js) && js.TryGetProperty("schema", out var schema))
            {
                body["response_format"] = new JsonObject { ["type"] = "json_object", ["json_schema"] = JsonNode.Parse(schema.GetRawText()) };
            }
        }
        return body;
    }

    public UpstreamChatResponse ReadChatResponse(ReadOnlySpan<byte> body, ChatRequest request, RoutableDeployment deployment) =>
        UpstreamAnswer.Read(body, request, TranslateChatResponse);

    private static UpstreamChatResponse TranslateChatResponse(JsonElement root, int bodyLength, ChatRequest request)
    {
        var message = root.GetProperty("message");
        var text = new System.Text.StringBuilder();
        if (message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
        {
            foreach (var part in content.EnumerateArray())
            {
                if (OpenAIAdapter.Str(part, "type") == "text" && OpenAIAdapter.Str(part, "text") is { } t) text.Append(t);
            }
        }
        var hasCalls = message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0;
        var usage = ReadUsage(root.TryGetProperty("usage", out var u) ? u : default);
        var counted = new System.Text.StringBuilder(text.ToString());
        var buffer = new ArrayBufferWriter<byte>(bodyLength + 256);
        using (var writer = new Utf8JsonWriter(buffer, JsonDefaults.WriterOptions))
        {
            ChatCompletionBody.WriteStart(writer, "chatcmpl-" + (OpenAIAdapter.Str(root, "id") ?? Guid.NewGuid().ToString("N")), request.Model);
            ChatCompletionBody.WriteMessageStart(writer, 0, text, hasCalls);
            if (hasCalls)
            {
                writer.WriteStartArray("tool_calls"u8);
                foreach (var call in calls.EnumerateArray())
                {
                    var fn = call.GetProperty("function");
                    var name = fn.GetProperty("name").GetString() ?? "";
                    var args = OpenAIAdapter.Str(fn, "arguments") ?? "{}";
                    counted.Append(name).Append(args);
                    writer.WriteStartObject();
                    ChatCompletionBody.WriteToolCallFields(writer, OpenAIAdapter.Str(call, "id") ?? ChatCompletionBody.NewToolCallId(), name, args);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
            ChatCompletionBody.WriteChoiceEnd(writer, MapFinishReason(OpenAIAdapter.Str(root, "finish_reason"), hasCalls));
            writer.WriteEndArray();
            if (usage is { } reported) UsageJson.Write(writer, reported);
            writer.WriteEndObject();
        }
        return new UpstreamChatResponse(buffer.WrittenSpan.ToArray(), usage, usage is null ? counted.ToString() : "");
    }

    /// <summary>Cohere's usage: <c>billed_units</c> (what it charges) first, else <c>tokens</c>; null when it reports neither.</summary>
    internal static TokenUsage? ReadUsage(JsonElement usage)
    {
        if (usage.ValueKind != JsonValueKind.Object) return null;
        foreach (var name in (ReadOnlySpan<string>)["billed_units", "tokens"])
        {
            if (usage.TryGetProperty(name, out var units) && units.ValueKind == JsonValueKind.Object && units.TryGetProperty("input_tokens", out _))
            {
                return new TokenUsage(UsageJson.Long(units, "input_tokens"), UsageJson.Long(units, "output_tokens"));
            }
        }
        return null;
    }

    internal static string MapFinishReason(string? reason, bool hasToolCalls) => hasToolCalls ? "tool_calls" : reason switch
    {
        "MAX_TOKENS" => "length",
        "TOOL_CALL" => "tool_calls",
        "ERROR_TOXIC" => "content_filter",
        _ => "stop",
    };

    public IChatStreamTranslator CreateStreamTranslator(ChatRequest request, RoutableDeployment deployment) => new CohereStreamTranslator(request.Model);

    public UpstreamEmbeddingsResponse ReadEmbeddingsResponse(ReadOnlySpan<byte> body, EmbeddingsRequest request, RoutableDeployment deployment) =>
        UpstreamAnswer.Read(body, request, TranslateEmbeddingsResponse);

    private static UpstreamEmbeddingsResponse TranslateEmbeddingsResponse(JsonElement root, int bodyLength, EmbeddingsRequest request)
    {
        var vectors = root.GetProperty("embeddings").GetProperty("float");
        TokenUsage? usage = root.TryGetProperty("meta", out var meta) && meta.ValueKind == JsonValueKind.Object
            && meta.TryGetProperty("billed_units", out var billed) && billed.ValueKind == JsonValueKind.Object && billed.TryGetProperty("input_tokens", out _)
            ? new TokenUsage(UsageJson.Long(billed, "input_tokens"), 0)
            : null;
        var buffer = new ArrayBufferWriter<byte>(bodyLength + 256);
        using (var writer = new Utf8JsonWriter(buffer, JsonDefaults.WriterOptions))
        {
            writer.WriteStartObject();
            EmbeddingEncoding.WriteData(writer, vectors.EnumerateArray(), request.EncodingFormat, EmbeddingEncoding.Write);
            writer.WriteString("model"u8, request.Model);
            if (usage is { } u) UsageJson.Write(writer, u, embeddings: true);
            writer.WriteEndObject();
        }
        return new UpstreamEmbeddingsResponse(buffer.WrittenSpan.ToArray(), usage);
    }

    /// <summary>Cohere's errors are <c>{"message": "..."}</c>, which OpenAI's reader already takes.</summary>
    public UpstreamError ReadError(int status, ReadOnlySpan<byte> body) => OpenAIAdapter.ReadOpenAIError(status, body);
}

/// <summary>
/// Cohere v2 chat events (<c>message-start</c>, <c>content-delta</c>, <c>tool-call-start</c>/<c>-delta</c>,
/// <c>message-end</c> with the finish reason and usage) → OpenAI chunks. <c>message-end</c> marks a complete stream.
/// </summary>
internal sealed class CohereStreamTranslator(string model) : ChunkTranslatorBase
{
    private bool _started;
    private bool _finished;
    private int _toolIndex = -1;

    protected override StreamStep Translate(string? eventType, JsonElement root, IBufferWriter<byte> output)
    {
        var type = OpenAIAdapter.Str(root, "type") ?? eventType;
        if (!_started)
        {
            _started = true;
            Model = model;
            if (OpenAIAdapter.Str(root, "id") is { } id) Id = "chatcmpl-" + id;
            WriteRoleChunk(output);
        }
        switch (type)
        {
            case "content-delta":
                var text = root.GetProperty("delta").GetProperty("message").GetProperty("content").GetProperty("text").GetString();
                if (text is { Length: > 0 }) WriteTextChunk(output, 0, text);
                break;
            case "tool-call-start":
                var call = root.GetProperty("delta").GetProperty("message").GetProperty("tool_calls");
                var fn = call.GetProperty("function");
                var name = fn.GetProperty("name").GetString() ?? "";
                var args = OpenAIAdapter.Str(fn, "arguments") ?? "";
                var callId = OpenAIAdapter.Str(call, "id") ?? ChatCompletionBody.NewToolCallId();
                _toolIndex++;
                WriteToolCallChunk(output, 0, _toolIndex, callId, name, args);
                break;
            case "tool-call-delta":
                var delta = OpenAIAdapter.Str(root.GetProperty("delta").GetProperty("message").GetProperty("tool_calls").GetProperty("function"), "arguments") ?? "";
                if (delta.Length > 0 && _toolIndex >= 0)
                {
                    WriteToolArgumentsChunk(output, 0, _toolIndex, delta);
                }
                break;
            case "message-end":
                var end = root.TryGetProperty("delta", out var d) ? d : default;
                if (end.ValueKind == JsonValueKind.Object && end.TryGetProperty("usage", out var usage) && CohereAdapter.ReadUsage(usage) is { } u) Usage = u;
                var reason = end.ValueKind == JsonValueKind.Object ? OpenAIAdapter.Str(end, "finish_reason") : null;
                if (reason is "ERROR")
                {
                    Error = new UpstreamError(502, "The upstream provider ended the answer with an error.", "api_error", null, "upstream_error");
                    return StreamStep.Error;
                }
                _finished = true;
                WriteChunk(output, 0, 0, static (_, _) => { }, CohereAdapter.MapFinishReason(reason, _toolIndex >= 0));
                return StreamStep.Done;
        }
        return StreamStep.Continue;
    }

    public override bool OnEnd() => _finished;
}
