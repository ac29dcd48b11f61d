using System.Buffers;
using System.Text.Json.Nodes;
using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Gateway.Responses;

/// <summary>
/// OpenAI's Responses API on top of the chat operation: a chat completion becomes a <c>response</c> object, a chat
/// stream becomes Responses' typed events, an error keeps OpenAI's envelope.
/// </summary>
internal sealed class ResponsesProtocol(ResponsesRequest request, string responseId, long createdAt, Func<JsonObject, CancellationToken, ValueTask>? completed = null, NativePassthrough? native = null) : IClientProtocol
{
    /// <summary>The client's request forwarded to OpenAI-type deployments that declare native Responses support.</summary>
    public NativePassthrough? Native => native;

    public string ResponseId => responseId;

    public static string NewId(string prefix) => prefix + "_" + Guid.NewGuid().ToString("N");

    /// <summary>The response object with everything but the output, status and usage, echoing the request's settings.</summary>
    public JsonObject Shell(string status)
    {
        var root = request.Root;
        return new JsonObject
        {
            ["id"] = responseId,
            ["object"] = "response",
            ["created_at"] = createdAt,
            ["status"] = status,
            ["error"] = null,
            ["incomplete_details"] = null,
            ["instructions"] = root["instructions"]?.DeepClone(),
            ["max_output_tokens"] = root["max_output_tokens"]?.DeepClone(),
            ["model"] = request.Model,
            ["output"] = new JsonArray(),
            ["parallel_tool_calls"] = root["parallel_tool_calls"]?.DeepClone() ?? true,
            ["previous_response_id"] = request.PreviousResponseId,
            ["reasoning"] = new JsonObject { ["effort"] = null, ["summary"] = null },
            ["store"] = request.Store,
            ["temperature"] = root["temperature"]?.DeepClone() ?? 1.0,
            ["text"] = root["text"]?.DeepClone() ?? new JsonObject { ["format"] = new JsonObject { ["type"] = "text" } },
            ["tool_choice"] = root["tool_choice"]?.DeepClone() ?? "auto",
            ["tools"] = root["tools"]?.DeepClone() ?? new JsonArray(),
            ["top_p"] = root["top_p"]?.DeepClone() ?? 1.0,
            ["truncation"] = "disabled",
            ["usage"] = null,
            ["user"] = root["user"]?.DeepClone(),
            ["metadata"] = root["metadata"]?.DeepClone() ?? new JsonObject(),
        };
    }

    public JsonNode TranslateCompletion(JsonObject completion)
    {
        var choice = completion["choices"] is JsonArray { Count: > 0 } choices ? choices[0] as JsonObject : null;
        var message = choice?["message"] as JsonObject;
        var output = new JsonArray();
        var text = message?["content"]?.GetValueKind() == JsonValueKind.String ? message["content"]!.GetValue<string>() : null;
        var refusal = message?["refusal"]?.GetValueKind() == JsonValueKind.String ? message["refusal"]!.GetValue<string>() : null;
        if (!string.IsNullOrEmpty(text) || refusal is not null)
        {
            var part = refusal is not null
                ? new JsonObject { ["type"] = "refusal", ["refusal"] = refusal }
                : TextPart(text!);
            output.Add(MessageItem(NewId("msg"), "completed", new JsonArray(part)));
        }
        if (message?["tool_calls"] is JsonArray calls)
        {
            foreach (var call in calls)
            {
                output.Add(FunctionCallItem(NewId("fc"), call!["id"]?.GetValue<string>() ?? NewId("call"),
                    call["function"]?["name"]?.GetValue<string>() ?? "", call["function"]?["arguments"]?.GetValue<string>() ?? "", "completed"));
            }
        }
        return Finish(output, choice?["finish_reason"]?.GetValue<string>(), completion["usage"] as JsonObject);
    }

    /// <summary>The finished response object: status from the finish reason, usage in Responses' terms.</summary>
    private JsonObject Finish(JsonArray output, string? finishReason, JsonObject? usage)
    {
        var incomplete = finishReason switch
        {
            "length" => "max_output_tokens",
            "content_filter" => "content_filter",
            _ => null,
        };
        var response = Shell(incomplete is null ? "completed" : "incomplete");
        if (incomplete is not null) response["incomplete_details"] = new JsonObject { ["reason"] = incomplete };
        response["output"] = output;
        response["usage"] = Usage(usage);
        return response;
    }

    internal static JsonObject Usage(JsonObject? usage)
    {
        long Read(JsonNode? n) => n is JsonValue v && v.TryGetValue<long>(out var l) ? l : 0;
        var input = Read(usage?["prompt_tokens"]);
        var outputTokens = Read(usage?["completion_tokens"]);
        return new JsonObject
        {
            ["input_tokens"] = input,
            ["input_tokens_details"] = new JsonObject { ["cached_tokens"] = Read(usage?["prompt_tokens_details"]?["cached_tokens"]) },
            ["output_tokens"] = outputTokens,
            ["output_tokens_details"] = new JsonObject { ["reasoning_tokens"] = Read(usage?["completion_tokens_details"]?["reasoning_tokens"]) },
            ["total_tokens"] = usage?["total_tokens"] is { } total ? Read(total) : input + outputTokens,
        };
    }

    private static JsonObject TextPart(string text) => new() { ["type"] = "output_text", ["text"] = text, ["annotations"] = new JsonArray() };

    private static JsonObject MessageItem(string id, string status, JsonArray content) => new()
    {
        ["type"] = "message", ["id"] = id, ["status"] = status, ["role"] = "assistant", ["content"] = content,
    };

    private static JsonObject FunctionCallItem(string id, string callId, string name, string arguments, string status) => new()
    {
        ["type"] = "function_call", ["id"] = id, ["call_id"] = callId, ["name"] = name, ["arguments"] = arguments, ["status"] = status,
    };

    /// <remarks>A parameter of the translated chat request's <c>messages</c> is the client's <c>input</c>.</remarks>
    public byte[] TranslateError(int status, string message, string? type, string? param, string? code) =>
        BuildingBlocks.Http.OpenAIErrorWriter.Serialize(message, type ?? "api_error",
            param is not null && param.StartsWith("messages", StringComparison.Ordinal) ? "input" : param, code);

    public IClientStreamTranslator CreateStreamTranslator() => new StreamTranslator(this);

    public ValueTask CompletedAsync(JsonNode answer, CancellationToken cancellationToken) =>
        completed is not null && answer is JsonObject response ? completed(response, cancellationToken) : ValueTask.CompletedTask;

    /// <summary>
    /// Chat chunks to Responses events: the text becomes one message item (index in order of first appearance), each
    /// tool call a function_call item; everything is closed and <c>response.completed</c> sent on <c>[DONE]</c>.
    /// </summary>
    internal sealed class StreamTranslator(ResponsesProtocol protocol) : ChatChunkTranslator
    {
        private readonly List<JsonObject> _items = [];
        private readonly System.Text.StringBuilder _text = new();
        private int _textItem = -1;
        private int _sequence;

        private void Emit(IBufferWriter<byte> output, string type, JsonObject data)
        {
            data.Insert(0, "type", type);
            data["sequence_number"] = _sequence++;
            NamedSse.Write(output, type, data);
        }

        protected override void WriteStart(IBufferWriter<byte> output)
        {
            Emit(output, "response.created", new JsonObject { ["response"] = protocol.Shell("in_progress") });
            Emit(output, "response.in_progress", new JsonObject { ["response"] = protocol.Shell("in_progress") });
        }

        protected override void OnText(string text, IBufferWriter<byte> output)
        {
            if (_textItem < 0)
            {
                _textItem = _items.Count;
                var item = MessageItem(NewId("msg"), "in_progress", []);
                _items.Add(item);
                Emit(output, "response.output_item.added", new JsonObject { ["output_index"] = _textItem, ["item"] = item.DeepClone() });
                Emit(output, "response.content_part.added", new JsonObject
                {
                    ["item_id"] = item["id"]!.GetValue<string>(), ["output_index"] = _textItem, ["content_index"] = 0, ["part"] = TextPart(""),
                });
            }
            _text.Append(text);
            Emit(output, "response.output_text.delta", new JsonObject
            {
                ["item_id"] = _items[_textItem]["id"]!.GetValue<string>(), ["output_index"] = _textItem, ["content_index"] = 0, ["delta"] = text, ["logprobs"] = new JsonArray(),
            });
        }

        protected override int OnToolCallStart(JsonObject call, IBufferWriter<byte> output)
        {
            var itemIndex = _items.Count;
            var item = FunctionCallItem(NewId("fc"), call["id"]?.GetValue<string>() ?? NewId("call"), call["function"]?["name"]?.GetValue<string>() ?? "", "", "in_progress");
            _items.Add(item);
            Emit(output, "response.output_item.added", new JsonObject { ["output_index"] = itemIndex, ["item"] = item.DeepClone() });
            return itemIndex;
        }

        protected override void OnToolArguments(int position, string arguments, IBufferWriter<byte> output)
        {
            var item = _items[position];
            item["arguments"] = item["arguments"]!.GetValue<string>() + arguments;
            Emit(output, "response.function_call_arguments.delta", new JsonObject
            {
                ["item_id"] = item["id"]!.GetValue<string>(), ["output_index"] = position, ["delta"] = arguments,
            });
        }

        public override void OnDone(IBufferWriter<byte> output)
        {
            Start(output);
            for (var i = 0; i < _items.Count; i++)
            {
                var item = _items[i];
                var id = item["id"]!.GetValue<string>();
                if (i == _textItem)
                {
                    var text = _text.ToString();
                    Emit(output, "response.output_text.done", new JsonObject { ["item_id"] = id, ["output_index"] = i, ["content_index"] = 0, ["text"] = text, ["logprobs"] = new JsonArray() });
                    Emit(output, "response.content_part.done", new JsonObject { ["item_id"] = id, ["output_index"] = i, ["content_index"] = 0, ["part"] = TextPart(text) });
                    item["content"] = new JsonArray(TextPart(text));
                }
                else
                {
                    Emit(output, "response.function_call_arguments.done", new JsonObject
                    {
                        ["item_id"] = id, ["output_index"] = i, ["name"] = item["name"]!.DeepClone(), ["arguments"] = item["arguments"]!.DeepClone(),
                    });
                }
                item["status"] = "completed";
                Emit(output, "response.output_item.done", new JsonObject { ["output_index"] = i, ["item"] = item.DeepClone() });
            }
            var response = protocol.Finish(new JsonArray(_items.Select(static i => (JsonNode)i.DeepClone()).ToArray()), FinishReason, ReportedUsage);
            Final = response;
            Emit(output, response["status"]!.GetValue<string>() == "completed" ? "response.completed" : "response.incomplete", new JsonObject { ["response"] = response.DeepClone() });
        }

        public override void OnError(string message, string? type, string? code, IBufferWriter<byte> output)
        {
            Start(output);
            var response = protocol.Shell("failed");
            response["output"] = new JsonArray(_items.Select(static i => (JsonNode)i.DeepClone()).ToArray());
            response["error"] = new JsonObject { ["code"] = code ?? "server_error", ["message"] = message };
            Emit(output, "response.failed", new JsonObject { ["response"] = response });
            Emit(output, "error", new JsonObject { ["code"] = code ?? "server_error", ["message"] = message, ["param"] = null });
        }
    }
}
