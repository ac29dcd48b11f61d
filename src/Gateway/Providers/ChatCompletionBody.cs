using System.Buffers;
using System.Text;
using LlmMarketplace.Gateway.Streaming;

namespace LlmMarketplace.Gateway.Providers;

/// <summary>
/// The OpenAI <c>chat.completion</c> answer a translating adapter (Anthropic, Bedrock) returns for one upstream answer:
/// its text, its tool calls, the mapped finish reason and the upstream's token counts.
/// </summary>
internal static class ChatCompletionBody
{
    public static UpstreamChatResponse Write(string id, string model, StringBuilder text, List<(string Id, string Name, string Arguments)> toolCalls, string finish, TokenUsage? usage)
    {
        var buffer = new ArrayBufferWriter<byte>(512 + text.Length);
        using (var w = new Utf8JsonWriter(buffer, JsonDefaults.WriterOptions))
        {
            WriteStart(w, id, model);
            WriteMessageStart(w, 0, text, toolCalls.Count > 0);
            w.WriteNull("refusal"u8);
            if (toolCalls.Count > 0)
            {
                w.WriteStartArray("tool_calls"u8);
                foreach (var (callId, name, arguments) in toolCalls)
                {
                    w.WriteStartObject();
                    WriteToolCallFields(w, callId, name, arguments);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            WriteChoiceEnd(w, finish);
            w.WriteEndArray();
            if (usage is { } us) UsageJson.Write(w, us);
            w.WriteNull("system_fingerprint"u8);
            w.WriteEndObject();
        }
        // The text the shield and the cascade read: the answer's words and its tool calls.
        foreach (var call in toolCalls) text.Append(call.Name).Append(call.Arguments);
        return new UpstreamChatResponse(buffer.WrittenSpan.ToArray(), usage, text.ToString());
    }

    /// <summary>Opens a <c>chat.completion</c> object, writes its id, object, creation time and model, and opens <c>choices</c>.</summary>
    public static void WriteStart(Utf8JsonWriter w, string id, string model)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, id);
        w.WriteString("object"u8, "chat.completion"u8);
        w.WriteNumber("created"u8, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        // The client sees the model it asked for, not the upstream's id.
        w.WriteString("model"u8, model);
        w.WriteStartArray("choices"u8);
    }

    /// <summary>Opens a choice and its assistant message with the content: null when the message is only tool calls.</summary>
    public static void WriteMessageStart(Utf8JsonWriter w, int index, StringBuilder text, bool hasToolCalls)
    {
        w.WriteStartObject();
        w.WriteNumber("index"u8, index);
        w.WriteStartObject("message"u8);
        w.WriteString("role"u8, "assistant"u8);
        if (text.Length == 0 && hasToolCalls) w.WriteNull("content"u8); else w.WriteString("content"u8, text.ToString());
    }

    /// <summary>Closes the message <see cref="WriteMessageStart"/> opened, then its choice with no logprobs and the finish reason.</summary>
    public static void WriteChoiceEnd(Utf8JsonWriter w, string finish)
    {
        w.WriteEndObject();
        w.WriteNull("logprobs"u8);
        w.WriteString("finish_reason"u8, finish);
        w.WriteEndObject();
    }

    /// <summary>Writes an OpenAI tool call's <c>"id", "type": "function", "function": {"name", "arguments"}</c> into the open object.</summary>
    public static void WriteToolCallFields(Utf8JsonWriter w, string id, string name, string arguments)
    {
        w.WriteString("id"u8, id);
        w.WriteString("type"u8, "function"u8);
        w.WriteStartObject("function"u8);
        w.WriteString("name"u8, name);
        w.WriteString("arguments"u8, arguments);
        w.WriteEndObject();
    }

    /// <summary>A tool call id in OpenAI's shape, for upstreams that give none.</summary>
    public static string NewToolCallId() => "call_" + Guid.NewGuid().ToString("N")[..24];
}
