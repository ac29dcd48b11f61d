using System.Buffers;
using System.Text.Json.Nodes;
using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Embeddings;
using LlmMarketplace.Gateway.Errors;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Streaming;

namespace LlmMarketplace.Gateway.Providers;

/// <summary>
/// Google Gemini (<c>{BaseUrl}/models/{model}:generateContent</c>, <c>:streamGenerateContent?alt=sse</c>,
/// <c>:batchEmbedContents</c>, <c>x-goog-api-key</c>).
/// </summary>
internal sealed class GeminiAdapter : IProviderAdapter
{
    public static readonly GeminiAdapter Instance = new();

    public HttpRequestMessage CreateChatRequest(RoutableDeployment deployment, ChatRequest request)
    {
        var op = request.Stream ? ":streamGenerateContent?alt=sse" : ":generateContent";
        return Create(deployment, $"{ModelPath(deployment)}{op}", BuildRequest(request));
    }

    public HttpRequestMessage CreateEmbeddingsRequest(RoutableDeployment deployment, EmbeddingsRequest request)
    {
        var model = "models/" + deployment.Config.UpstreamModel;
        var requests = new JsonArray();
        foreach (var text in request.Texts ?? throw new NotSupportedException("Gemini embeddings take text input, not token arrays."))
        {
            var item = new JsonObject
            {
                ["model"] = model,
                ["content"] = new JsonObject { ["parts"] = new JsonArray(new JsonObject { ["text"] = text }) },
            };
            if (request.Root.TryGetProperty("dimensions", out var dims) && dims.ValueKind == JsonValueKind.Number)
            {
                item["outputDimensionality"] = dims.GetInt32();
            }
            requests.Add(item);
        }
        return Create(deployment, $"{ModelPath(deployment)}:batchEmbedContents", new JsonObject { ["requests"] = requests });
    }

    private static string ModelPath(RoutableDeployment d) => $"{d.Provider.BasePath}/models/{Uri.EscapeDataString(d.Config.UpstreamModel)}";

    private static HttpRequestMessage Create(RoutableDeployment deployment, string url, JsonObject body)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(JsonNodes.ToUtf8(body)) };
        message.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        if (deployment.Provider.Config.ApiKey is { Length: > 0 } key)
        {
            message.Headers.TryAddWithoutValidation("x-goog-api-key", key);
        }
        foreach (var (name, value) in deployment.Provider.Config.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }
        return message;
    }

    internal static JsonObject BuildRequest(ChatRequest request)
    {
        var body = new JsonObject();
        var system = new List<string>();
        var contents = new RoleTurns("parts");
        var toolNames = new Dictionary<string, string>(StringComparer.Ordinal);

        foreach (var message in request.Messages.EnumerateArray())
        {
            var role = message.GetProperty("role").GetString();
            message.TryGetProperty("content", out var content);
            switch (role)
            {
                case "system" or "developer":
                    system.Add(AnthropicAdapter.TextOf(content));
                    break;
                case "user":
                    foreach (var part in UserParts(content)) contents.Add("user", part);
                    break;
                case "assistant":
                    var text = AnthropicAdapter.TextOf(content);
                    if (text.Length > 0) contents.Add("model", new JsonObject { ["text"] = text });
                    if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
                    {
                        foreach (var call in calls.EnumerateArray())
                        {
                            var fn = call.GetProperty("function");
                            var name = fn.GetProperty("name").GetString()!;
                            if (call.TryGetProperty("id", out var id) && id.GetString() is { } callId) toolNames[callId] = name;
                            contents.Add("model", new JsonObject
                            {
                                ["functionCall"] = new JsonObject
                                {
                                    ["name"] = name,
                                    ["args"] = AnthropicAdapter.ParseArguments(fn.TryGetProperty("arguments", out var a) ? a.GetString() : null),
                                },
                            });
                        }
                    }
                    break;
                case "tool" or "function":
                    var toolCallId = message.TryGetProperty("tool_call_id", out var tid) ? tid.GetString() ?? "" : "";
                    var toolName = toolNames.GetValueOrDefault(toolCallId) ?? (message.TryGetProperty("name", out var n) ? n.GetString() : null) ?? toolCallId;
                    var result = AnthropicAdapter.TextOf(content);
                    var response = ChatTranslation.ResultObject(result) ?? new JsonObject { ["content"] = result };
                    contents.Add("user", new JsonObject { ["functionResponse"] = new JsonObject { ["name"] = toolName, ["response"] = response } });
                    break;
            }
        }
        if (system.Count > 0)
        {
            body["systemInstruction"] = new JsonObject { ["parts"] = new JsonArray(new JsonObject { ["text"] = string.Join("\n\n", system) }) };
        }
        body["contents"] = contents.Turns;

        var config = new JsonObject();
        if (request.TryGet("temperature", out var t)) config["temperature"] = t.GetDouble();
        if (request.TryGet("top_p", out var tp)) config["topP"] = tp.GetDouble();
        if (ChatTranslation.MaxTokens(request) is { } maxTokens) config["maxOutputTokens"] = maxTokens;
        if (request.N > 1) config["candidateCount"] = request.N;
        if (request.TryGet("seed", out var seed)) config["seed"] = seed.GetInt64();
        if (request.TryGet("presence_penalty", out var pp)) config["presencePenalty"] = pp.GetDouble();
        if (request.TryGet("frequency_penalty", out var fp)) config["frequencyPenalty"] = fp.GetDouble();
        if (request.TryGet("logprobs", out var lp) && lp.ValueKind == JsonValueKind.True)
        {
            config["responseLogprobs"] = true;
            if (request.TryGet("top_logprobs", out var tlp)) config["logprobs"] = tlp.GetInt32();
        }
        if (request.TryGet("stop", out var stop))
        {
            config["stopSequences"] = ChatTranslation.StopSequences(stop);
        }
        if (request.TryGet("response_format", out var rf) && rf.TryGetProperty("type", out var rft))
        {
            switch (rft.GetString())
            {
                case "json_object":
                    config["responseMimeType"] = "application/json";
                    break;
                case "json_schema":
                    config["responseMimeType"] = "application/json";
                    if (rf.TryGetProperty("json_schema", out var js) && js.TryGetProperty("schema", out var schema))
                    {
                        config["responseJsonSchema"] = JsonNode.Parse(schema.GetRawText());
                    }
                    break;
            }
        }
        if (config.Count > 0) body["generationConfig"] = config;

        if (request.TryGet("tools", out var tools) && tools.GetArrayLength() > 0)
        {
            var declarations = ChatTranslation.FunctionDeclarations(tools, static (declaration, fn) =>
            {
                if (fn.TryGetProperty("parameters", out var p)) declaration["parametersJsonSchema"] = JsonNode.Parse(p.GetRawText());
                return declaration;
            });
            body["tools"] = new JsonArray(new JsonObject { ["functionDeclarations"] = declarations });
            if (request.TryGet("tool_choice", out var tc))
            {
                var fcc = new JsonObject();
                if (tc.ValueKind == JsonValueKind.String)
                {
                    fcc["mode"] = tc.GetString() switch { "required" => "ANY", "none" => "NONE", _ => "AUTO" };
                }
                else
                {
                    fcc["mode"] = "ANY";
                    fcc["allowedFunctionNames"] = new JsonArray(tc.GetProperty("function").GetProperty("name").GetString());
                }
                body["toolConfig"] = new JsonObject { ["functionCallingConfig"] = fcc };
            }
        }
        return body;
    }

    private static IEnumerable<JsonNode> UserParts(JsonElement content) => ChatTranslation.UserContent(content,
        static text => new JsonObject { ["text"] = text },
        static (url, _) => ChatTranslation.TryParseDataUrl(url, out var mediaType, out var data)
            ? new JsonObject { ["inlineData"] = new JsonObject { ["mimeType"] = mediaType, ["data"] = data } }
            : new JsonObject { ["fileData"] = new JsonObject { ["fileUri"] = url } });

    internal static string MapFinishReason(string? reason, bool hasToolCalls) => hasToolCalls ? "tool_calls" : reason switch
    {
        "MAX_TOKENS" => "length",
        "SAFETY" or "RECITATION" or "BLOCKLIST" or "PROHIBITED_CONTENT" or "SPII" => "content_filter",
        _ => "stop",
    };

    internal static TokenUsage? ReadUsage(JsonElement root)
    {
        if (!root.TryGetProperty("usageMetadata", out var u) || u.ValueKind != JsonValueKind.Object) return null;
        var thoughts = UsageJson.Long(u, "thoughtsTokenCount");
        return new TokenUsage(
            UsageJson.Long(u, "promptTokenCount"),
            UsageJson.Long(u, "candidatesTokenCount") + thoughts,
            UsageJson.Long(u, "cachedContentTokenCount"),
            0,
            thoughts);
    }

    public UpstreamChatResponse ReadChatResponse(ReadOnlySpan<byte> body, ChatRequest request, RoutableDeployment deployment) =>
        UpstreamAnswer.Read(body, (request, deployment), static (root, _, s) => TranslateChatResponse(root, s.request, s.deployment));

    private static UpstreamChatResponse TranslateChatResponse(JsonElement root, ChatRequest request, RoutableDeployment deployment)
    {
        var allText = new System.Text.StringBuilder();
        var usage = ReadUsage(root);
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, JsonDefaults.WriterOptions))
        {
            ChatCompletionBody.WriteStart(w, "chatcmpl-" + (OpenAIAdapter.Str(root, "responseId") ?? Guid.NewGuid().ToString("N")), request.Model);
            if (root.TryGetProperty("candidates", out var candidates) && candidates.ValueKind == JsonValueKind.Array)
            {
                var i = 0;
                foreach (var candidate in candidates.EnumerateArray())
                {
                    var text = new System.Text.StringBuilder();
                    var calls = new List<(string Name, string Args)>();
                    if (candidate.TryGetProperty("content", out var content) && content.TryGetProperty("parts", out var parts))
                    {
                        foreach (var part in parts.EnumerateArray())
                        {
                            if (part.TryGetProperty("thought", out var thought) && thought.ValueKind == JsonValueKind.True) continue;
                            if (part.TryGetProperty("text", out var t)) text.Append(t.GetString());
                            if (part.TryGetProperty("functionCall", out var fc))
                            {
                                calls.Add((fc.GetProperty("name").GetString()!, fc.TryGetProperty("args", out var args) ? args.GetRawText() : "{}"));
                            }
                        }
                    }
                    allText.Append(text);
                    ChatCompletionBody.WriteMessageStart(w, candidate.TryGetProperty("index", out var ix) && ix.TryGetInt32(out var ixv) ? ixv : i, text, calls.Count > 0);
                    w.WriteNull("refusal"u8);
                    if (calls.Count > 0)
                    {
                        w.WriteStartArray("tool_calls"u8);
                        foreach (var (name, args) in calls)
                        {
                            allText.Append(name).Append(args);
                            w.WriteStartObject();
                            ChatCompletionBody.WriteToolCallFields(w, ChatCompletionBody.NewToolCallId(), name, args);
                            w.WriteEndObject();
                        }
                        w.WriteEndArray();
                    }
                    ChatCompletionBody.WriteChoiceEnd(w, MapFinishReason(OpenAIAdapter.Str(candidate, "finishReason"), calls.Count > 0));
                    i++;
                }
            }
            w.WriteEndArray();
            if (usage is { } us) UsageJson.Write(w, us);
            w.WriteNull("system_fingerprint"u8);
            w.WriteEndObject();
        }
        return new UpstreamChatResponse(buffer.WrittenSpan.ToArray(), usage, allText.ToString());
    }

    public IChatStreamTranslator CreateStreamTranslator(ChatRequest request, RoutableDeployment deployment) => new GeminiStreamTranslator(request.Model);

    public UpstreamEmbeddingsResponse ReadEmbeddingsResponse(ReadOnlySpan<byte> body, EmbeddingsRequest request, RoutableDeployment deployment) =>
        UpstreamAnswer.Read(body, (request, deployment), static (root, length, s) => TranslateEmbeddingsResponse(root, length, s.request, s.deployment));

    private static UpstreamEmbeddingsResponse TranslateEmbeddingsResponse(JsonElement root, int bodyLength, EmbeddingsRequest request, RoutableDeployment deployment)
    {
        var buffer = new ArrayBufferWriter<byte>(bodyLength + 256);
        using (var w = new Utf8JsonWriter(buffer, JsonDefaults.WriterOptions))
        {
            w.WriteStartObject();
            EmbeddingEncoding.WriteData(w, root.GetProperty("embeddings").EnumerateArray(), request.EncodingFormat,
                static (writer, embedding, format) => EmbeddingEncoding.Write(writer, embedding.GetProperty("values"), format));
            w.WriteString("model"u8, request.Model);
            w.WriteEndObject();
        }
        return new UpstreamEmbeddingsResponse(buffer.WrittenSpan.ToArray(), null);
    }

    public UpstreamError ReadError(int status, ReadOnlySpan<byte> body)
    {
        if (UpstreamAnswer.ErrorRoot(body) is not { } document)
        {
            return UpstreamAnswer.StatusError(status);
        }
        var root = document.ValueKind == JsonValueKind.Array && document.GetArrayLength() > 0 ? document[0] : document;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("error", out var error) || error.ValueKind != JsonValueKind.Object)
        {
            return UpstreamAnswer.StatusError(status);
        }
        var message = OpenAIAdapter.Str(error, "message") ?? UpstreamAnswer.StatusMessage(status);
        var gstatus = OpenAIAdapter.Str(error, "status");
        return gstatus switch
        {
            "RESOURCE_EXHAUSTED" => new UpstreamError(status, message, "rate_limit_exceeded", null, "rate_limit_exceeded"),
            "UNAUTHENTICATED" or "PERMISSION_DENIED" => new UpstreamError(status, message, "authentication_error", null, "invalid_api_key"),
            "NOT_FOUND" => new UpstreamError(status, message, "invalid_request_error", null, "model_not_found"),
            "INVALID_ARGUMENT" or "FAILED_PRECONDITION" => new UpstreamError(status, message, "invalid_request_error", null, null),
            _ => new UpstreamError(status, message, OpenAIErrors.TypeForStatus(status), null, gstatus?.ToLowerInvariant()),
        };
    }
}

/// <summary>Gemini SSE (each event a GenerateContentResponse) → OpenAI chunks. The stream has no end marker; a finish reason marks completion.</summary>
internal sealed class GeminiStreamTranslator(string model) : ChunkTranslatorBase
{
    private bool _started;
    private bool _finished;
    private int _toolIndex;

    protected override StreamStep Translate(string? eventType, JsonElement root, IBufferWriter<byte> output)
    {
        if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
        {
            Error = new UpstreamError(502, OpenAIAdapter.Str(error, "message") ?? "The upstream provider sent an error event.", "api_error", null, "upstream_error");
            return StreamStep.Error;
        }
        if (!_started)
        {
            _started = true;
            Model = model;
            if (OpenAIAdapter.Str(root, "responseId") is { } rid) Id = "chatcmpl-" + rid;
            WriteRoleChunk(output);
        }
        if (GeminiAdapter.ReadUsage(root) is { } usage) Usage = usage;
        if (root.TryGetProperty("candidates", out var candidates) && candidates.ValueKind == JsonValueKind.Array)
        {
            foreach (var candidate in candidates.EnumerateArray())
            {
                var index = candidate.TryGetProperty("index", out var ix) && ix.TryGetInt32(out var ixv) ? ixv : 0;
                var sawCall = false;
                if (candidate.TryGetProperty("content", out var content) && content.TryGetProperty("parts", out var parts))
                {
                    foreach (var part in parts.EnumerateArray())
                    {
                        if (part.TryGetProperty("thought", out var thought) && thought.ValueKind == JsonValueKind.True) continue;
                        if (part.TryGetProperty("text", out var t) && t.GetString() is { Length: > 0 } text)
                        {
                            WriteTextChunk(output, index, text);
                        }
                        if (part.TryGetProperty("functionCall", out var fc))
                        {
                            sawCall = true;
                            var name = fc.GetProperty("name").GetString()!;
                            var args = fc.TryGetProperty("args", out var a) ? a.GetRawText() : "{}";
                            WriteToolCallChunk(output, index, _toolIndex++, ChatCompletionBody.NewToolCallId(), name, args);
                        }
                    }
                }
                if (OpenAIAdapter.Str(candidate, "finishReason") is { } reason)
                {
                    _finished = true;
                    WriteChunk(output, index, 0, static (_, _) => { }, GeminiAdapter.MapFinishReason(reason, sawCall || _toolIndex > 0));
                }
            }
        }
        return StreamStep.Continue;
    }

    public override bool OnEnd() => _finished;
}
