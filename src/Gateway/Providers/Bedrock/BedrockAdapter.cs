using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Nodes;
using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Errors;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Streaming;

namespace LlmMarketplace.Gateway.Providers.Bedrock;

/// <summary>
/// Amazon Bedrock's Converse API (<c>POST {BaseUrl}/model/{modelId}/converse</c> and <c>/converse-stream</c>, the stream
/// in AWS event-stream framing), signed by <see cref="AwsSigV4Handler"/>: system prompts, images, tools, tool choice,
/// tool calls and results, stop reasons and token counts translated both ways.
/// </summary>
internal sealed class BedrockAdapter : IProviderAdapter
{
    public static readonly BedrockAdapter Instance = new();

    public HttpRequestMessage CreateChatRequest(RoutableDeployment deployment, ChatRequest request)
    {
        // The model id is one path segment: ':' (versions) and '.' (inference profiles such as us.anthropic.…) stay inside it.
        var url = $"{deployment.Provider.BasePath}/model/{Uri.EscapeDataString(deployment.Config.UpstreamModel)}/{(request.Stream ? "converse-stream" : "converse")}";
        var message = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(JsonNodes.ToUtf8(BuildRequest(request))) };
        message.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        if (request.Stream) message.Headers.Accept.ParseAdd("application/vnd.amazon.eventstream");
        foreach (var (name, value) in deployment.Provider.Config.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }
        return message;
    }

    public IUpstreamEventReader OpenEventReader(Stream upstream) => new AwsEventStreamReader(upstream);

    internal static JsonObject BuildRequest(ChatRequest request)
    {
        var body = new JsonObject();
        var system = new JsonArray();
        var messages = new RoleTurns("content");

        var index = 0;
        foreach (var message in request.Messages.EnumerateArray())
        {
            var role = message.GetProperty("role").GetString();
            message.TryGetProperty("content", out var content);
            switch (role)
            {
                case "system" or "developer":
                    system.Add(new JsonObject { ["text"] = AnthropicAdapter.TextOf(content) });
                    break;
                case "user":
                    foreach (var block in UserBlocks(content, index)) messages.Add("user", block);
                    break;
                case "assistant":
                    var text = AnthropicAdapter.TextOf(content);
                    if (text.Length > 0) messages.Add("assistant", new JsonObject { ["text"] = text });
                    if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
                    {
                        foreach (var call in calls.EnumerateArray())
                        {
                            var fn = call.GetProperty("function");
                            messages.Add("assistant", new JsonObject
                            {
                                ["toolUse"] = new JsonObject
                                {
                                    ["toolUseId"] = call.TryGetProperty("id", out var id) ? id.GetString() : "tooluse_" + Guid.NewGuid().ToString("N"),
                                    ["name"] = fn.GetProperty("name").GetString(),
                                    ["input"] = AnthropicAdapter.ParseArguments(fn.TryGetProperty("arguments", out var args) ? args.GetString() : null),
                                },
                            });
                        }
                    }
                    break;
                case "tool" or "function":
                    var result = AnthropicAdapter.TextOf(content);
                    var resultBlock = ChatTranslation.ResultObject(result) is { } o ? new JsonObject { ["json"] = o } : new JsonObject { ["text"] = result };
                    messages.Add("user", new JsonObject
                    {
                        ["toolResult"] = new JsonObject
                        {
                            ["toolUseId"] = ChatTranslation.AnsweredCallId(message),
                            ["content"] = new JsonArray(resultBlock),
                        },
                    });
                    break;
            }
            index++;
        }
        body["messages"] = messages.Turns;
        if (system.Count > 0) body["system"] = system;

        var inference = new JsonObject();
        if (ChatTranslation.MaxTokens(request) is { } maxTokens) inference["maxTokens"] = maxTokens;
        if (request.TryGet("temperature", out var t)) inference["temperature"] = t.GetDouble();
        if (request.TryGet("top_p", out var tp)) inference["topP"] = tp.GetDouble();
        if (request.TryGet("stop", out var stop))
        {
            inference["stopSequences"] = ChatTranslation.StopSequences(stop);
        }
        if (inference.Count > 0) body["inferenceConfig"] = inference;

        if (request.TryGet("tools", out var tools) && tools.GetArrayLength() > 0)
        {
            var list = ChatTranslation.FunctionDeclarations(tools, static (spec, fn) =>
            {
                spec["inputSchema"] = new JsonObject
                {
                    ["json"] = ChatTranslation.InputSchema(fn),
                };
                return new JsonObject { ["toolSpec"] = spec };
            });
            var toolConfig = new JsonObject { ["tools"] = list };
            if (request.TryGet("tool_choice", out var tc))
            {
                // Converse has no "none": the tools stay declared (earlier tool calls need them) and the model chooses.
                JsonObject? choice = tc.ValueKind == JsonValueKind.String
                    ? tc.GetString() switch
                    {
                        "required" => new JsonObject { ["any"] = new JsonObject() },
                        "auto" => new JsonObject { ["auto"] = new JsonObject() },
                        _ => null,
                    }
                    : new JsonObject { ["tool"] = new JsonObject { ["name"] = tc.GetProperty("function").GetProperty("name").GetString() } };
                if (choice is not null) toolConfig["toolChoice"] = choice;
            }
            body["toolConfig"] = toolConfig;
        }
        return body;
    }

    private static IEnumerable<JsonNode> UserBlocks(JsonElement content, int messageIndex) => ChatTranslation.UserContent(content,
        static text => new JsonObject { ["text"] = text },
        (url, partIndex) =>
        {
            var param = $"messages[{messageIndex}].content[{partIndex}].image_url.url";
            if (!ChatTranslation.TryParseDataUrl(url, out var mediaType, out var data) || !mediaType.StartsWith("image/", StringComparison.Ordinal) || mediaType.Length == 6)
            {
                throw new UnsupportedInputException("Amazon Bedrock takes images as data URLs (data:image/png;base64,...), not by link.", param);
            }
            var format = mediaType[6..] switch
            {
                "jpg" => "jpeg",
                var f => f,
            };
            if (format is not ("png" or "jpeg" or "gif" or "webp"))
            {
                throw new UnsupportedInputException($"Amazon Bedrock takes png, jpeg, gif or webp images, not image/{format}.", param);
            }
            return new JsonObject
            {
                ["image"] = new JsonObject { ["format"] = format, ["source"] = new JsonObject { ["bytes"] = data } },
            };
        });

    internal static string MapStopReason(string? reason) => reason switch
    {
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "content_filtered" or "guardrail_intervened" => "content_filter",
        _ => "stop",
    };

    /// <summary>Converse's <c>usage</c> in OpenAI's terms: prompt tokens include the cached ones read and written.</summary>
    internal static TokenUsage ReadUsage(JsonElement usage)
    {
        var input = UsageJson.Long(usage, "inputTokens");
        var cacheRead = UsageJson.Long(usage, "cacheReadInputTokens");
        var cacheWrite = UsageJson.Long(usage, "cacheWriteInputTokens");
        return new TokenUsage(input + cacheRead + cacheWrite, UsageJson.Long(usage, "outputTokens"), cacheRead, cacheWrite);
    }

    public UpstreamChatResponse ReadChatResponse(ReadOnlySpan<byte> body, ChatRequest request, RoutableDeployment deployment) =>
        UpstreamAnswer.Read(body, request, static (root, _, r) => TranslateChatResponse(root, r));

    private static UpstreamChatResponse TranslateChatResponse(JsonElement root, ChatRequest request)
    {
        var text = new System.Text.StringBuilder();
        var toolCalls = new List<(string Id, string Name, string Arguments)>();
        foreach (var block in root.GetProperty("output").GetProperty("message").GetProperty("content").EnumerateArray())
        {
            if (block.TryGetProperty("text", out var t)) text.Append(t.GetString());
            else if (block.TryGetProperty("toolUse", out var use))
            {
                toolCalls.Add((use.GetProperty("toolUseId").GetString()!, use.GetProperty("name").GetString()!, use.TryGetProperty("input", out var input) ? input.GetRawText() : "{}"));
            }
        }
        var usage = root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object ? ReadUsage(u) : (TokenUsage?)null;
        var finish = MapStopReason(OpenAIAdapter.Str(root, "stopReason"));
        return ChatCompletionBody.Write("chatcmpl-" + Guid.NewGuid().ToString("N"), request.Model, text, toolCalls, finish, usage);
    }

    public IChatStreamTranslator CreateStreamTranslator(ChatRequest request, RoutableDeployment deployment) => new BedrockStreamTranslator(request.Model);

    /// <summary>
    /// Bedrock's errors are <c>{"message"}</c> with the exception's name in a header (and, from some endpoints, in
    /// <c>__type</c>); the status tells them apart: 400 validation, 403 access denied or a bad signature, 404 an unknown
    /// model, 408 model timeout, 429 throttling, 5xx service faults.
    /// </summary>
    public UpstreamError ReadError(int status, ReadOnlySpan<byte> body) =>
        FromStatus(status, (UpstreamAnswer.ErrorRoot(body) is { ValueKind: JsonValueKind.Object } root
            ? OpenAIAdapter.Str(root, "message") ?? OpenAIAdapter.Str(root, "Message")
            : null) ?? UpstreamAnswer.StatusMessage(status));

    internal static UpstreamError FromStatus(int status, string message) => status switch
    {
        400 => new UpstreamError(status, message, OpenAIErrors.InvalidRequest, null, null),
        401 or 403 => new UpstreamError(status, message, OpenAIErrors.Authentication, null, "invalid_api_key"),
        404 => new UpstreamError(status, message, OpenAIErrors.InvalidRequest, null, "model_not_found"),
        429 => new UpstreamError(status, message, OpenAIErrors.RateLimit, null, "rate_limit_exceeded"),
        _ => new UpstreamError(status, message, OpenAIErrors.TypeForStatus(status), null, null),
    };

    /// <summary>An exception message inside a ConverseStream (its <c>:exception-type</c>) in OpenAI's terms.</summary>
    internal static UpstreamError FromStreamException(string exceptionType, string message) => exceptionType switch
    {
        "throttlingException" or "serviceUnavailableException" => new UpstreamError(502, message, OpenAIErrors.RateLimit, null, "rate_limit_exceeded"),
        "validationException" => new UpstreamError(502, message, OpenAIErrors.InvalidRequest, null, null),
        "modelStreamErrorException" => new UpstreamError(502, message, OpenAIErrors.Api, null, "upstream_error"),
        _ => new UpstreamError(502, message, OpenAIErrors.Api, null, exceptionType),
    };
}

/// <summary>ConverseStream events (messageStart, contentBlockStart/Delta/Stop, messageStop, metadata) → OpenAI chunks.</summary>
internal sealed class BedrockStreamTranslator(string model) : ChunkTranslatorBase
{
    private readonly Dictionary<int, int> _toolIndexByBlock = [];
    private bool _stopped;

    private static bool IsException([NotNullWhen(true)] string? eventType) =>
        eventType is not null && eventType.StartsWith(AwsEventStreamReader.ExceptionPrefix, StringComparison.Ordinal);

    private StreamStep Fail(string eventType, string? message)
    {
        Error = BedrockAdapter.FromStreamException(eventType[AwsEventStreamReader.ExceptionPrefix.Length..], message ?? "The upstream provider sent an error event.");
        return StreamStep.Error;
    }

    protected override StreamStep TranslateEmpty(string? eventType) =>
        IsException(eventType) ? Fail(eventType, null) : StreamStep.Continue;

    protected override StreamStep Translate(string? eventType, JsonElement root, IBufferWriter<byte> output)
    {
        if (IsException(eventType))
        {
            return Fail(eventType, root.ValueKind == JsonValueKind.Object ? OpenAIAdapter.Str(root, "message") : null);
        }
        switch (eventType)
        {
            case "messageStart":
                Model = model;
                WriteRoleChunk(output);
                break;
            case "contentBlockStart":
                if (root.TryGetProperty("start", out var start) && start.TryGetProperty("toolUse", out var use))
                {
                    var toolIndex = _toolIndexByBlock.Count;
                    _toolIndexByBlock[root.GetProperty("contentBlockIndex").GetInt32()] = toolIndex;
                    WriteToolCallChunk(output, 0, toolIndex, OpenAIAdapter.Str(use, "toolUseId") ?? "", OpenAIAdapter.Str(use, "name") ?? "", "");
                }
                break;
            case "contentBlockDelta":
                var delta = root.GetProperty("delta");
                if (delta.TryGetProperty("text", out var text))
                {
                    WriteTextChunk(output, 0, text.GetString() ?? "");
                }
                else if (delta.TryGetProperty("toolUse", out var toolDelta))
                {
                    var partial = OpenAIAdapter.Str(toolDelta, "input") ?? "";
                    WriteToolArgumentsChunk(output, 0, _toolIndexByBlock.GetValueOrDefault(root.GetProperty("contentBlockIndex").GetInt32()), partial);
                }
                break;
            case "messageStop":
                _stopped = true;
                WriteChunk(output, 0, 0, static (_, _) => { }, BedrockAdapter.MapStopReason(OpenAIAdapter.Str(root, "stopReason")));
                break;
            case "metadata":
                if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object) Usage = BedrockAdapter.ReadUsage(usage);
                // The usage comes last, after messageStop.
                if (_stopped) return StreamStep.Done;
                break;
        }
        return StreamStep.Continue;
    }

    public override bool OnEnd() => _stopped;
}
