using System.Text;
using System.Text.Json;

namespace LlmMarketplace.BuildingBlocks.Validation;

/// <summary>
/// Finds text in a JSON document that cannot become a .NET string: invalid UTF-8 bytes, or an escaped unpaired surrogate
/// such as <c>"\ud800"</c>. Both are refused at the door with a 400 naming the field, instead of failing later when the
/// value is read.
/// </summary>
public static class JsonText
{
    /// <summary>
    /// Walks <paramref name="utf8Json"/> and returns the path of the first property name or string value that is not
    /// valid Unicode text (for example <c>messages[0].content</c>, or <c>$</c> for the root), or null when all text is
    /// valid. Malformed JSON is not reported here (the parser reports it).
    /// </summary>
    public static string? FindInvalidText(ReadOnlySpan<byte> utf8Json, int maxDepth = 128)
    {
        var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { MaxDepth = maxDepth });
        var path = new List<Segment>(8);
        string? pendingName = null;
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        if (!IsValid(ref reader))
                        {
                            // The name itself is unreadable: report the object that holds it.
                            path[^1] = path[^1] with { Name = null };
                            return Format(path);
                        }
                        pendingName = reader.GetString();
                        continue;
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        Advance(path, pendingName);
                        path.Add(new Segment(reader.TokenType == JsonTokenType.StartArray, null, -1));
                        pendingName = null;
                        continue;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        path.RemoveAt(path.Count - 1);
                        continue;
                    case JsonTokenType.String:
                        Advance(path, pendingName);
                        if (!IsValid(ref reader))
                        {
                            return Format(path);
                        }
                        pendingName = null;
                        continue;
                    default:
                        Advance(path, pendingName);
                        pendingName = null;
                        continue;
                }
            }
        }
        catch (JsonException)
        {
            // Malformed JSON: the caller's parser reports it with its own message.
        }
        return null;
    }

    /// <summary>True when <paramref name="value"/> holds no unpaired surrogate (it can be encoded as UTF-8).</summary>
    public static bool IsValid(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= value.Length || !char.IsLowSurrogate(value[i + 1])) return false;
                i++;
            }
            else if (char.IsLowSurrogate(c))
            {
                return false;
            }
        }
        return true;
    }

    private static bool IsValid(ref Utf8JsonReader reader)
    {
        if (reader.HasValueSequence)
        {
            return TryGetString(ref reader);
        }
        if (!reader.ValueIsEscaped)
        {
            return System.Text.Unicode.Utf8.IsValid(reader.ValueSpan);
        }
        return TryGetString(ref reader);
    }

    private static bool TryGetString(ref Utf8JsonReader reader)
    {
        try
        {
            reader.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Moves the innermost container to the element about to be read.</summary>
    private static void Advance(List<Segment> path, string? name)
    {
        if (path.Count == 0) return;
        var top = path[^1];
        path[^1] = top.IsArray ? top with { Index = top.Index + 1 } : top with { Name = name };
    }

    private static string Format(List<Segment> path)
    {
        var builder = new StringBuilder();
        foreach (var segment in path)
        {
            if (segment.IsArray)
            {
                if (segment.Index >= 0) builder.Append('[').Append(segment.Index).Append(']');
            }
            else if (segment.Name is { } name)
            {
                if (builder.Length > 0) builder.Append('.');
                builder.Append(name);
            }
        }
        return builder.Length == 0 ? "$" : builder.ToString();
    }

    private readonly record struct Segment(bool IsArray, string? Name, int Index);
}
