using System.Buffers;
using System.Text;
using LlmMarketplace.Gateway.Streaming;

namespace LlmMarketplace.Gateway.Providers;

/// <summary>Shared state and chunk writing for translators from non-OpenAI stream protocols.</summary>
internal abstract class ChunkTranslatorBase : IChatStreamTranslator
{
    protected readonly StringBuilder Text = new();

    public TokenUsage? Usage { get; protected set; }

    public bool UsageChunkWritten => false;

    public int CompletionLength => Text.Length;

    public string CompletionText => Text.ToString();

    public string Id { get; protected set; } = "chatcmpl-" + Guid.NewGuid().ToString("N");

    public long Created { get; protected set; } = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public string Model { get; protected set; } = "";

    public UpstreamError? Error { get; protected set; }

    public StreamStep OnEvent(string? eventType, ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        try
        {
            if (data.IsEmpty) return TranslateEmpty(eventType);
            var reader = new Utf8JsonReader(data);
            using var document = JsonDocument.ParseValue(ref reader);
            return Translate(eventType, document.RootElement, output);
        }
        catch (Exception ex) when (IsMalformed(ex))
        {
            // An event we cannot read must end the stream with an error event, never truncate it silently.
            Error = new UpstreamError(502, "The upstream provider sent a malformed stream event.", "api_error", null, "upstream_error");
            return StreamStep.Error;
        }
    }

    /// <summary>Handles one upstream event, a JSON value; throws (see <see cref="IsMalformed"/>) on an event not in the expected shape.</summary>
    protected abstract StreamStep Translate(string? eventType, JsonElement root, IBufferWriter<byte> output);

    /// <summary>Handles an upstream event with no data: skipped, unless the protocol gives such an event a meaning.</summary>
    protected virtual StreamStep TranslateEmpty(string? eventType) => StreamStep.Continue;

    /// <summary>True for what reading upstream JSON of an unexpected shape throws: bad JSON, a missing property, a value of the wrong kind or range.</summary>
    internal static bool IsMalformed(Exception ex) => ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException;

    public abstract bool OnEnd();

    /// <summary>Writes <c>{"id",…,"choices":[{"index":i,"delta":{…},"logprobs":null,"finish_reason":…}]}</c>.</summary>
    protected void WriteChunk<TState>(IBufferWriter<byte> output, int index, TState state, Action<Utf8JsonWriter, TState> writeDelta, string? finishReason)
    {
        Sse.WriteJson(output, (self: this, index, state, writeDelta, finishReason), static (w, s) =>
        {
            w.WriteStartObject();
            w.WriteString("id"u8, s.self.Id);
            w.WriteString("object"u8, "chat.completion.chunk"u8);
            w.WriteNumber("created"u8, s.self.Created);
            w.WriteString("model"u8, s.self.Model);
            w.WriteNull("system_fingerprint"u8);
            w.WriteStartArray("choices"u8);
            w.WriteStartObject();
            w.WriteNumber("index"u8, s.index);
            w.WriteStartObject("delta"u8);
            s.writeDelta(w, s.state);
            w.WriteEndObject();
            w.WriteNull("logprobs"u8);
            if (s.finishReason is null) w.WriteNull("finish_reason"u8); else w.WriteString("finish_reason"u8, s.finishReason);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary>Writes the first chunk of an answer: <c>{"role": "assistant", "content": ""}</c>.</summary>
    protected void WriteRoleChunk(IBufferWriter<byte> output) => WriteChunk(output, 0, 0, static (w, _) =>
    {
        w.WriteString("role"u8, "assistant"u8);
        w.WriteString("content"u8, ""u8);
    }, null);

    /// <summary>Writes the chunk that opens tool call <paramref name="toolIndex"/> with its id, name and first arguments; counts them as completion text.</summary>
    protected void WriteToolCallChunk(IBufferWriter<byte> output, int index, int toolIndex, string id, string name, string arguments)
    {
        Text.Append(name).Append(arguments);
        WriteChunk(output, index, (toolIndex, id, name, arguments), static (w, s) =>
        {
            w.WriteStartArray("tool_calls"u8);
            w.WriteStartObject();
            w.WriteNumber("index"u8, s.toolIndex);
            ChatCompletionBody.WriteToolCallFields(w, s.id, s.name, s.arguments);
            w.WriteEndObject();
            w.WriteEndArray();
        }, null);
    }

    /// <summary>Writes a chunk with more arguments of tool call <paramref name="toolIndex"/>; counts them as completion text.</summary>
    protected void WriteToolArgumentsChunk(IBufferWriter<byte> output, int index, int toolIndex, string arguments)
    {
        Text.Append(arguments);
        WriteChunk(output, index, (toolIndex, arguments), static (w, s) =>
        {
            w.WriteStartArray("tool_calls"u8);
            w.WriteStartObject();
            w.WriteNumber("index"u8, s.toolIndex);
            w.WriteStartObject("function"u8);
            w.WriteString("arguments"u8, s.arguments);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndArray();
        }, null);
    }

    protected void WriteTextChunk(IBufferWriter<byte> output, int index, string text, bool withRole = false)
    {
        Text.Append(text);
        WriteChunk(output, index, (text, withRole), static (w, s) =>
        {
            if (s.withRole) w.WriteString("role"u8, "assistant"u8);
            w.WriteString("content"u8, s.text);
        }, null);
    }
}
