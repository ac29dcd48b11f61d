using System.Buffers;
using System.Text.Json.Nodes;
using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Errors;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Streaming;

namespace LlmMarketplace.Gateway.Providers;

/// <summary>
/// Anthropic's Messages API (<c>POST {BaseUrl}/messages</c>, <c>x-api-key</c>, <c>anthropic-version</c>):
/// requests, answers, streaming events and tool use translated both ways.
/// </summary>
internal sealed class AnthropicAdapter : IProviderAdapter
{
    public static readonly AnthropicAdapter Instance = new();

    private const int DefaultMaxTokens = 4096;

    public HttpRequestMessage CreateChatRequest(RoutableDeployment deployment, ChatRequest request) =>
        CreateMessagesRequest(deployment, JsonNodes.ToUtf8(BuildRequest(request, deployment)));

    /// <summary>
    /// A Messages request with the deployment's credentials and headers; <paramref name="version"/> and
    /// <paramref name="beta"/> are the client's <c>anthropic-version</c> and <c>anthropic-beta</c> (native passthrough).
    /// </summary>
    public static HttpRequestMessage CreateMessagesRequest(RoutableDeployment deployment, byte[] body, string? version = null, string? beta = null)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, deployment.Provider.BasePath + "/messages")
        {
            Content = new ByteArrayContent(body),
        };
        message.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        if (deployment.Provider.Config.ApiKey is { Length: > 0 } key)
        {
            message.Headers.TryAddWithoutValidation("x-api-key", key);
        }
        message.Headers.TryAddWithoutValidation("anthropic-version", version ?? deployment.Provider.Config.ApiVersion ?? "2023-06-01");
        if (beta is { Length: > 0 }) message.Headers.TryAddWithoutValidation("anthropic-beta", beta);
        foreach (var (name, value) in deployment.Provider.Config.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }
        return message;
    }

    internal static JsonObject BuildRequest(ChatRequest request, RoutableDeployment deployment)
    {
        var root = request.Root;
        var body = new JsonObject { ["model"] = deployment.Config.UpstreamModel };
        body["max_tokens"] = ChatTranslation.MaxTokens(request) ?? DefaultMaxTokens;

        var system = new List<string>();
        var messages = new RoleTurns("content");

        foreach (var message in request.Messages.EnumerateArray())
        {
            var role = message.GetProperty("role").GetString();
            message.TryGetProperty("content", out var content);
            switch (role)
            {
                case "system" or "developer":
                    system.Add(TextOf(content));
                    break;
                case "user":
                    foreach (var block in UserBlocks(content)) messages.Add("user", block);
                    break;
                case "assistant":
                    var text = TextOf(content);
                    if (text.Length > 0) messages.Add("assistant", new JsonObject { ["type"] = "text", ["text"] = text });
                    if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
                    {
                        foreach (var call in calls.EnumerateArray())
                        {
                            var fn = call.GetProperty("function");
                            messages.Add("assistant", new JsonObject
                            {
                                ["type"] = "tool_use",
                                ["id"] = call.TryGetProperty("id", out var id) ? id.GetString() : "toolu_" + Guid.NewGuid().ToString("N"),
                                ["name"] = fn.GetProperty("name").GetString(),
                                ["input"] = ParseArguments(fn.TryGetProperty("arguments", out var args) ? args.GetString() : null),
                            });
                        }
                    }
                    break;
                case "tool" or "function":
                    messages.Add("user", new JsonObject
                    {
                        ["type"] = "tool_result",
                        ["tool_use_id"] = ChatTranslation.AnsweredCallId(message),
                        ["content"] = TextOf(content),
                    });
                    break;
            }
        }
        if (system.Count > 0) body["system"] = string.Join("\n\n", system);
        body["messages"] = messages.Turns;
        if (request.Stream) body["stream"] = true;
        if (request.TryGet("temperature", out var t)) body["temperature"] = Math.Min(1.0, t.GetDouble());
        if (request.TryGet("top_p", out var tp)) body["top_p"] = tp.GetDouble();
        if (request.TryGet("top_k", out var tk)) body["top_k"] = tk.GetInt32();
        if (request.TryGet("stop", out var stop))
        {
            body["stop_sequences"] = ChatTranslation.StopSequences(stop);
        }
        if (request.TryGet("user", out var user) && user.ValueKind == JsonValueKind.String)
        {
            body["metadata"] = new JsonObject { ["user_id"] = user.GetString() };
        }
        if (request.TryGet("tools", out var tools) && tools.GetArrayLength() > 0)
        {
            var list = new JsonArray();
            foreach (var tool in tools.EnumerateArray())
            {
                if (!tool.TryGetProperty("function", out var fn)) continue;
                var entry = new JsonObject
                {
                    ["name"] = fn.GetProperty("name").GetString(),
                    ["input_schema"] = ChatTranslation.InputSchema(fn),
                };
                if (fn.TryGetProperty("description", out var d) && d.ValueKind == JsonValueKind.String) entry["description"] = d.GetString();
                list.Add(entry);
            }
            body["tools"] = list;
            var disableParallel = request.TryGet("parallel_tool_calls", out var ptc) && ptc.ValueKind == JsonValueKind.False;
            JsonObject? choice = null;
            if (request.TryGet("tool_choice", out var tc))
            {
                choice = tc.ValueKind == JsonValueKind.String
                    ? tc.GetString() switch
                    {
                        "required" => new JsonObject { ["type"] = "any" },
                        "none" => new JsonObject { ["type"] = "none" },
                        _ => new JsonObject { ["type"] = "auto" },
                    }
                    : new JsonObject { ["type"] = "tool", ["name"] = tc.GetProperty("function").GetProperty("name").GetString() };
            }
            if (disableParallel)
            {
                choice ??= new JsonObject { ["type"] = "auto" };
                choice["disable_parallel_tool_use"] = true;
            }
            if (choice is not null) body["tool_choice"] = choice;
        }
        return body;
    }

    private static IEnumerable<JsonNode> UserBlocks(JsonElement content) => ChatTranslation.UserContent(content,
        static text => new JsonObject { ["type"] = "text", ["text"] = text },
        static (url, _) => ChatTranslation.TryParseDataUrl(url, out var mediaType, out var data)
            ? new JsonObject
            {
                ["type"] = "image",
                ["source"] = new JsonObject { ["type"] = "base64", ["media_type"] = mediaType, ["data"] = data },
            }
            : new JsonObject { ["type"] = "image", ["source"] = new JsonObject { ["type"] = "url", ["url"] = url } });

    internal static string TextOf(JsonElement content)
    {
        if (content.ValueKind == JsonValueKind.String) return content.GetString() ?? "";
        if (content.ValueKind != JsonValueKind.Array) return "";
        var parts = new List<string>();
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind == JsonValueKind.String) parts.Add(part.GetString()!);
            else if (part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String) parts.Add(text.GetString()!);
        }
        return string.Join("\n", parts);
    }

    internal static JsonNode ParseArguments(string? arguments)
    {
        if (string.IsNullOrWhiteSpace(arguments)) return new JsonObject();
        try
        {
            return JsonNode.Parse(arguments) ?? new JsonObject();
        }
        catch (JsonException)
        {
            return new JsonObject();
        }
    }

    internal static string MapStopReason(string? reason) => reason switch
    {
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    };

    internal static TokenUsage ReadUsage(JsonElement usage, TokenUsage? previous = null)
    {
        var input = UsageJson.Long(usage, "input_tokens");
        var cacheRead = UsageJson.Long(usage, "cache_read_input_tokens");
        var cacheWrite = UsageJson.Long(usage, "cache_creation_input_tokens");
        var output = UsageJson.Long(usage, "output_tokens");
        if (previous is { } p)
        {
            // message_delta carries cumulative output tokens and, on newer APIs, the input counts again.
            return new TokenUsage(
                input + cacheRead + cacheWrite > 0 ? input + cacheRead + cacheWrite : p.PromptTokens,
                output > 0 ? output : p.CompletionTokens,
                cacheRead > 0 ? cacheRead : p.CachedTokens,
                cacheWrite > 0 ? cacheWrite : p.CacheWriteTokens);
        }
        return new TokenUsage(input + cacheRead + cacheWrite, output, cacheRead, cacheWrite);
    }

    public UpstreamChatResponse ReadChatResponse(ReadOnlySpan<byte> body, ChatRequest request, RoutableDeployment deployment) =>
        UpstreamAnswer.Read(body, (request, deployment), static (root, _, s) => TranslateChatResponse(root, s.request, s.deployment));

    private static UpstreamChatResponse TranslateChatResponse(JsonElement root, ChatRequest request, RoutableDeployment deployment)
    {
        var text = new System.Text.StringBuilder();
        var toolCalls = new List<(string Id, string Name, string Arguments)>();
        if (root.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
        {
            foreach (var block in content.EnumerateArray())
            {
                var type = block.GetProperty("type").GetString();
                if (type == "text") text.Append(block.GetProperty("text").GetString());
                else if (type == "tool_use")
                {
                    toolCalls.Add((block.GetProperty("id").GetString()!, block.GetProperty("name").GetString()!, block.GetProperty("input").GetRawText()));
                }
            }
        }
        var usage = root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object ? ReadUsage(u) : (TokenUsage?)null;
        var finish = MapStopReason(root.TryGetProperty("stop_reason", out var sr) ? sr.GetString() : null);
        var id = OpenAIAdapter.Str(root, "id") ?? Guid.NewGuid().ToString("N");
        // The client sees the model it asked for, not the upstream's id.
        var model = request.Model;
        return ChatCompletionBody.Write(id.StartsWith("chatcmpl-", StringComparison.Ordinal) ? id : "chatcmpl-" + id, model, text, toolCalls, finish, usage);
    }

    public IChatStreamTranslator CreateStreamTranslator(ChatRequest request, RoutableDeployment deployment) => new AnthropicStreamTranslator(request.Model);

    public UpstreamError ReadError(int status, ReadOnlySpan<byte> body) =>
        UpstreamAnswer.ErrorRoot(body) is { ValueKind: JsonValueKind.Object } root && root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object
            ? FromAnthropicError(status, error)
            : UpstreamAnswer.StatusError(status);

    internal static UpstreamError FromAnthropicError(int status, JsonElement error)
    {
        var type = OpenAIAdapter.Str(error, "type");
        var message = OpenAIAdapter.Str(error, "message") ?? UpstreamAnswer.StatusMessage(status);
        return type switch
        {
            "invalid_request_error" => new UpstreamError(status, message, "invalid_request_error", null, null),
            "authentication_error" => new UpstreamError(status, message, "authentication_error", null, "invalid_api_key"),
            "permission_error" => new UpstreamError(status, message, "permission_error", null, null),
            "not_found_error" => new UpstreamError(status, message, "invalid_request_error", null, "model_not_found"),
            "rate_limit_error" => new UpstreamError(status, message, "rate_limit_exceeded", null, "rate_limit_exceeded"),
            "overloaded_error" => new UpstreamError(status == 200 ? 529 : status, message, "api_error", null, "overloaded"),
            _ => new UpstreamError(status, message, OpenAIErrors.TypeForStatus(status), null, type),
        };
    }
}

/// <summary>Anthropic stream events → OpenAI chunks.</summary>
internal sealed class AnthropicStreamTranslator(string model) : ChunkTranslatorBase
{
    private readonly Dictionary<int, int> _toolIndexByBlock = [];
    private bool _stopped;

    protected override StreamStep Translate(string? eventType, JsonElement root, IBufferWriter<byte> output)
    {
        var type = eventType ?? OpenAIAdapter.Str(root, "type");
        switch (type)
        {
            case "message_start":
                var message = root.GetProperty("message");
                Id = "chatcmpl-" + (OpenAIAdapter.Str(message, "id") ?? Guid.NewGuid().ToString("N"));
                Model = model;
                if (message.TryGetProperty("usage", out var u)) Usage = AnthropicAdapter.ReadUsage(u);
                WriteRoleChunk(output);
                break;
            case "content_block_start":
                var block = root.GetProperty("content_block");
                var blockIndex = root.GetProperty("index").GetInt32();
                if (OpenAIAdapter.Str(block, "type") == "tool_use")
                {
                    var toolIndex = _toolIndexByBlock.Count;
                    _toolIndexByBlock[blockIndex] = toolIndex;
                    WriteToolCallChunk(output, 0, toolIndex, OpenAIAdapter.Str(block, "id") ?? "", OpenAIAdapter.Str(block, "name") ?? "", "");
                }
                else if (OpenAIAdapter.Str(block, "text") is { Length: > 0 } initial)
                {
                    WriteTextChunk(output, 0, initial);
                }
                break;
            case "content_block_delta":
                var delta = root.GetProperty("delta");
                switch (OpenAIAdapter.Str(delta, "type"))
                {
                    case "text_delta":
                        WriteTextChunk(output, 0, OpenAIAdapter.Str(delta, "text") ?? "");
                        break;
                    case "input_json_delta":
                        var partial = OpenAIAdapter.Str(delta, "partial_json") ?? "";
                        WriteToolArgumentsChunk(output, 0, _toolIndexByBlock.GetValueOrDefault(root.GetProperty("index").GetInt32()), partial);
                        break;
                }
                break;
            case "message_delta":
                if (root.TryGetProperty("usage", out var du) && du.ValueKind == JsonValueKind.Object)
                {
                    Usage = AnthropicAdapter.ReadUsage(du, Usage);
                }
                if (root.TryGetProperty("delta", out var md) && OpenAIAdapter.Str(md, "stop_reason") is { } reason)
                {
                    WriteChunk(output, 0, 0, static (_, _) => { }, AnthropicAdapter.MapStopReason(reason));
                }
                break;
            case "message_stop":
                _stopped = true;
                return StreamStep.Done;
            case "error":
                Error = root.TryGetProperty("error", out var error)
                    ? AnthropicAdapter.FromAnthropicError(502, error)
                    : new UpstreamError(502, "The upstream provider sent an error event.", "api_error", null, "upstream_error");
                return StreamStep.Error;
        }
        return StreamStep.Continue;
    }

    public override bool OnEnd() => _stopped;
}
