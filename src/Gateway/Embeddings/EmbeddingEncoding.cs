using System.Buffers.Binary;
using System.Text.Json;

namespace LlmMarketplace.Gateway.Embeddings;

/// <summary>Writes an embedding vector as OpenAI does: a float array, or base64 of little-endian float32.</summary>
internal static class EmbeddingEncoding
{
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
