using System.Buffers;
using System.Text.Json.Nodes;
using LlmMarketplace.BuildingBlocks.Http;
using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Gateway.Messages;

/// <summary>
/// Anthropic's Messages API on top of the chat operation: a chat completion becomes a <c>message</c>, a chat stream
/// becomes Anthropic's events, an error becomes Anthropic's envelope.
/// </summary>
internal sealed class MessagesProtocol(string model, NativePassthrough? native = null) : IClientProtocol
{
    /// <summary>The client's request passed through to <c>anthropic</c>-type deployments.</summary>
    public NativePassthrough? Native => native;

    public static string NewId(string prefix) => prefix + "_" + Guid.NewGuid().ToString("N")[..24];

    public JsonNode TranslateCompletion(JsonObject completion)
    {
        var choice = completion["choices"] is JsonArray { Count: > 0 } choices ? choices[0] as JsonObject : null;
        var message = choice?["message"] as JsonObject;
        var content = new JsonArray();
        if (message?["content"]?.GetValueKind() == JsonValueKind.String && message["content"]!.GetValue<string>() is { Length: > 0 } text)
        {
            content.Add(new JsonObject { ["type"] = "text", ["text"] = text });
        }
        if (message?["tool_calls"] is JsonArray calls)
        {
            foreach (var call in calls.OfType<JsonObject>())
            {
                content.Add(new JsonObject
                {
                    ["type"] = "tool_use",
                    ["id"] = call["id"]?.GetValue<string>() ?? NewId("toolu"),
                    ["name"] = call["function"]?["name"]?.GetValue<string>() ?? "",
                    ["input"] = ParseArguments(call["function"]?["arguments"]?.GetValue<string>()),
                });
            }
        }
        return new JsonObject
        {
            ["id"] = NewId("msg"),
            ["type"] = "message",
            ["role"] = "assistant",
            ["model"] = model,
            ["content"] = content,
            ["stop_reason"] = StopReason(choice?["finish_reason"]?.GetValue<string>()),
            ["stop_sequence"] = null,
            ["usage"] = Usage(completion["usage"] as JsonObject),
        };
    }

    /// <summary>Tool arguments as an object; arguments that are not a JSON object are kept under <c>_raw</c>.</summary>
    internal static JsonNode ParseArguments(string? arguments)
    {
        if (string.IsNullOrWhiteSpace(arguments)) return new JsonObject();
        try
        {
            if (JsonNode.Parse(arguments) is JsonObject o) return o;
        }
        catch (JsonException)
        {
        }
        return new JsonObject { ["_raw"] = arguments };
    }

    internal static string StopReason(string? finishReason) => finishReason switch
    {
        "length" => "max_tokens",
        "tool_calls" or "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    };

    internal static JsonObject Usage(JsonObject? usage)
    {
        long Read(JsonNode? n) => n is JsonValue v && v.TryGetValue<long>(out var l) ? l : 0;
        var cached = Read(usage?["prompt_tokens_details"]?["cached_tokens"]);
        var written = Read(usage?["prompt_tokens_details"]?["cache_creation_tokens"]) + Read(usage?["cache_creation_input_tokens"]);
        return new JsonObject
        {
            // Anthropic counts input_tokens without the cache reads and writes.
            ["input_tokens"] = Math.Max(0, Read(usage?["prompt_tokens"]) - cached - written),
            ["cache_creation_input_tokens"] = written,
            ["cache_read_input_tokens"] = cached,
            ["output_tokens"] = Read(usage?["completion_tokens"]),
        };
    }

    public byte[] TranslateError(int status, string message, string? type, string? param, string? code) =>
        AnthropicErrorWriter.Serialize(AnthropicErrorWriter.TypeForStatus(status), message);

    public IClientStreamTranslator CreateStreamTranslator() => new StreamTranslator(model);

    /// <summary>Chat chunks to Anthropic's events: one content block for the text, one per tool call, in order of appearance.</summary>
    internal sealed class StreamTranslator(string model) : ChatChunkTranslator
    {
        private readonly JsonArray _content = [];
        private readonly string _id = NewId("msg");
        private int _openBlock = -1;
        private int _textBlock = -1;

        private static void Emit(IBufferWriter<byte> output, string type, JsonObject data)
        {
            data.Insert(0, "type", type);
            NamedSse.Write(output, type, data);
        }

        protected override void WriteStart(IBufferWriter<byte> output)
        {
            Emit(output, "message_start", new JsonObject
            {
                ["message"] = new JsonObject
                {
                    ["id"] = _id, ["type"] = "message", ["role"] = "assistant", ["model"] = model, ["content"] = new JsonArray(),
                    ["stop_reason"] = null, ["stop_sequence"] = null,
                    ["usage"] = new JsonObject { ["input_tokens"] = 0, ["output_tokens"] = 0 },
                },
            });
            Emit(output, "ping", []);
        }

        private void Open(IBufferWriter<byte> output, int index, JsonObject block)
        {
            Close(output);
            _openBlock = index;
            Emit(output, "content_block_start", new JsonObject { ["index"] = index, ["content_block"] = block.DeepClone() });
        }

        private void Close(IBufferWriter<byte> output)
        {
            if (_openBlock < 0) return;
            Emit(output, "content_block_stop", new JsonObject { ["index"] = _openBlock });
            _openBlock = -1;
        }

        protected override void OnText(string text, IBufferWriter<byte> output)
        {
            if (_textBlock < 0 || _openBlock != _textBlock)
            {
                _textBlock = _content.Count;
                _content.Add(new JsonObject { ["type"] = "text", ["text"] = "" });
                Open(output, _textBlock, new JsonObject { ["type"] = "text", ["text"] = "" });
            }
            var block = _content[_textBlock]!;
            block["text"] = block["text"]!.GetValue<string>() + text;
            Emit(output, "content_block_delta", new JsonObject { ["index"] = _textBlock, ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = text } });
        }

        protected override int OnToolCallStart(JsonObject call, IBufferWriter<byte> output)
        {
            var blockIndex = _content.Count;
            var block = new JsonObject
            {
                ["type"] = "tool_use", ["id"] = call["id"]?.GetValue<string>() ?? NewId("toolu"),
                ["name"] = call["function"]?["name"]?.GetValue<string>() ?? "", ["input"] = new JsonObject(),
            };
            _content.Add(block);
            block["_json"] = "";
            Open(output, blockIndex, new JsonObject { ["type"] = "tool_use", ["id"] = block["id"]!.DeepClone(), ["name"] = block["name"]!.DeepClone(), ["input"] = new JsonObject() });
            return blockIndex;
        }

        protected override void OnToolArguments(int position, string arguments, IBufferWriter<byte> output)
        {
            var block = _content[position]!;
            block["_json"] = block["_json"]!.GetValue<string>() + arguments;
            Emit(output, "content_block_delta", new JsonObject { ["index"] = position, ["delta"] = new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = arguments } });
        }

        public override void OnDone(IBufferWriter<byte> output)
        {
            Start(output);
            Close(output);
            var usage = Usage(ReportedUsage);
            var stopReason = StopReason(FinishReason);
            Emit(output, "message_delta", new JsonObject
            {
                ["delta"] = new JsonObject { ["stop_reason"] = stopReason, ["stop_sequence"] = null },
                ["usage"] = usage.DeepClone(),
            });
            Emit(output, "message_stop", []);
            foreach (var block in _content.OfType<JsonObject>().Where(static b => b["_json"] is not null))
            {
                block["input"] = ParseArguments(block["_json"]!.GetValue<string>());
                block.Remove("_json");
            }
            Final = new JsonObject
            {
                ["id"] = _id, ["type"] = "message", ["role"] = "assistant", ["model"] = model, ["content"] = _content.DeepClone(),
                ["stop_reason"] = stopReason, ["stop_sequence"] = null, ["usage"] = usage,
            };
        }

        public override void OnError(string message, string? type, string? code, IBufferWriter<byte> output)
        {
            Start(output);
            var data = new JsonObject { ["error"] = new JsonObject { ["type"] = code == "stream_interrupted" || type == "server_error" ? "api_error" : type == "rate_limit_exceeded" ? "rate_limit_error" : "api_error", ["message"] = message } };
            Emit(output, "error", data);
        }
    }
}
