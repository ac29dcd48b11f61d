using System.Buffers.Binary;

namespace LlmMarketplace.Gateway.Embeddings;

/// <summary>Writes an embedding vector as OpenAI does: a float array, or base64 of little-endian float32.</summary>
internal static class EmbeddingEncoding
{
    /// <summary>
    /// Writes <c>"object": "list", "data": [{"object": "embedding", "index", "embedding"}, …]</c> into the open answer
    /// object, each vector written by <paramref name="write"/> in <paramref name="format"/>.
    /// </summary>
    public static void WriteData<TVector>(Utf8JsonWriter writer, IEnumerable<TVector> vectors, string format, Action<Utf8JsonWriter, TVector, string> write)
    {
        writer.WriteString("object"u8, "list"u8);
        writer.WriteStartArray("data"u8);
        var i = 0;
        foreach (var vector in vectors)
        {
            writer.WriteStartObject();
            writer.WriteString("object"u8, "embedding"u8);
            writer.WriteNumber("index"u8, i++);
            writer.WritePropertyName("embedding"u8);
            write(writer, vector, format);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    public static void Write(Utf8JsonWriter writer, JsonElement values, string format)
    {
        if (format == "base64")
        {
            var count = values.GetArrayLength();
            var bytes = new byte[count * 4];
            var i = 0;
            foreach (var v in values.EnumerateArray())
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), v.GetSingle());
                i++;
            }
            writer.WriteBase64StringValue(bytes);
            return;
        }
        writer.WriteStartArray();
        foreach (var v in values.EnumerateArray())
        {
            writer.WriteNumberValue(v.GetDouble());
        }
        writer.WriteEndArray();
    }
}
