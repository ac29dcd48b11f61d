using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace LlmMarketplace.Gateway.Caching;

/// <summary>
/// The cache key of a request: SHA-256 of a canonical form of what decides the answer (model, messages, tools and
/// sampling parameters) within the caller's team, with object keys sorted and whitespace in strings collapsed, so formatting differences hit the same entry.
/// </summary>
internal static class CacheKey
{
    private static readonly string[] Fields =
    [
        "messages", "tools", "tool_choice", "parallel_tool_calls", "functions", "function_call", "response_format",
        "temperature", "top_p", "top_k", "n", "stop", "seed", "max_tokens", "max_completion_tokens", "logprobs", "top_logprobs",
        "presence_penalty", "frequency_penalty", "logit_bias", "reasoning_effort", "modalities", "audio", "prediction", "verbosity",
        "input", "encoding_format", "dimensions", "provider",
    ];

    /// <param name="team">The caller's team: answers are never shared across teams.</param>
    public static string Compute(string operation, string model, JsonElement root, bool stream, bool includeUsage, string? route = null, string? team = null)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("op", operation);
            writer.WriteString("model", model);
            writer.WriteBoolean("stream", stream);
            writer.WriteBoolean("usage", includeUsage);
            if (!string.IsNullOrEmpty(route)) writer.WriteString("route", route);
            if (!string.IsNullOrEmpty(team)) writer.WriteString("team", team);
            foreach (var field in Fields)
            {
                if (root.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null)
                {
                    writer.WritePropertyName(field);
                    WriteCanonical(writer, value);
                }
            }
            writer.WriteEndObject();
        }
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(buffer.WrittenSpan, hash);
        return Convert.ToHexString(hash);
    }

    internal static void WriteCanonical(Utf8JsonWriter writer, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in value.EnumerateObject().OrderBy(static p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    WriteCanonical(writer, property.Value);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in value.EnumerateArray()) WriteCanonical(writer, item);
                writer.WriteEndArray();
                break;
            case JsonValueKind.String:
                writer.WriteStringValue(NormalizeWhitespace(value.GetString()!));
                break;
            case JsonValueKind.Number:
                // Integers keep every digit (large seeds); other numbers compare by value (1.0 == 1).
                if (value.TryGetInt64(out var whole)) writer.WriteNumberValue(whole);
                else writer.WriteNumberValue(value.GetDouble());
                break;
            default:
                value.WriteTo(writer);
                break;
        }
    }

    internal static string NormalizeWhitespace(string s)
    {
        var sb = new StringBuilder(s.Length);
        var pendingSpace = false;
        foreach (var c in s)
        {
            if (char.IsWhiteSpace(c))
            {
                pendingSpace = sb.Length > 0;
                continue;
            }
            if (pendingSpace)
            {
                sb.Append(' ');
                pendingSpace = false;
            }
            sb.Append(c);
        }
        return sb.ToString();
    }
}
