using System.Buffers;

namespace LlmMarketplace.Gateway.Streaming;

/// <summary>Writes server-sent events in OpenAI's framing: <c>data: {json}\n\n</c>.</summary>
internal static class Sse
{
    public static ReadOnlySpan<byte> DataPrefix => "data: "u8;

    public static ReadOnlySpan<byte> EventEnd => "\n\n"u8;

    public static ReadOnlySpan<byte> Done => "data: [DONE]\n\n"u8;

    public static void WriteData(IBufferWriter<byte> output, ReadOnlySpan<byte> json)
    {
        var span = output.GetSpan(json.Length + 8);
        DataPrefix.CopyTo(span);
        json.CopyTo(span[6..]);
        EventEnd.CopyTo(span[(6 + json.Length)..]);
        output.Advance(json.Length + 8);
    }

    /// <summary>Writes one event whose JSON is produced by <paramref name="write"/>.</summary>
    public static void WriteJson<TState>(IBufferWriter<byte> output, TState state, Action<Utf8JsonWriter, TState> write)
    {
        output.Write(DataPrefix);
        using (var writer = new Utf8JsonWriter(output, JsonDefaults.WriterOptions))
        {
            write(writer, state);
        }
        output.Write(EventEnd);
    }
}

internal static class JsonDefaults
{
    public static readonly JsonWriterOptions WriterOptions = new() { Indented = false, SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static readonly JsonSerializerOptions SerializerOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
