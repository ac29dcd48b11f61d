using Microsoft.ML.Tokenizers;

namespace LlmMarketplace.Gateway.Tokens;

/// <summary>
/// Counts tokens with OpenAI's encodings (o200k_base for GPT-4o and later, cl100k_base for GPT-4 and 3.5),
/// used to check context limits, estimate before a call, and fill in usage when an upstream reports none.
/// </summary>
public sealed class TokenCounter
{
    private readonly Lazy<Tokenizer> _o200k = new(static () => TiktokenTokenizer.CreateForEncoding("o200k_base"));
    private readonly Lazy<Tokenizer> _cl100k = new(static () => TiktokenTokenizer.CreateForEncoding("cl100k_base"));

    public Tokenizer For(string model)
    {
        var m = model.ToLowerInvariant();
        var legacy = (m.StartsWith("gpt-4", StringComparison.Ordinal) && !m.StartsWith("gpt-4o", StringComparison.Ordinal) && !m.StartsWith("gpt-4.1", StringComparison.Ordinal))
            || m.StartsWith("gpt-3.5", StringComparison.Ordinal)
            || m.StartsWith("text-embedding-ada", StringComparison.Ordinal)
            || m.StartsWith("text-embedding-3", StringComparison.Ordinal);
        return legacy ? _cl100k.Value : _o200k.Value;
    }

    public int Count(string model, string text) => text.Length == 0 ? 0 : For(model).CountTokens(text);

    /// <summary>Prompt tokens of a chat request, with OpenAI's per-message framing (3 per message, 3 to prime the reply).</summary>
    public int CountChatPrompt(string model, JsonElement messages, JsonElement? tools = null)
    {
        var tokenizer = For(model);
        var total = 3;
        foreach (var message in messages.EnumerateArray())
        {
            total += 3;
            foreach (var property in message.EnumerateObject())
            {
                var value = property.Value;
                switch (value.ValueKind)
                {
                    case JsonValueKind.String:
                        total += tokenizer.CountTokens(value.GetString()!);
                        if (property.NameEquals("name")) total += 1;
                        break;
                    case JsonValueKind.Array:
                        foreach (var part in value.EnumerateArray())
                        {
                            if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
                            {
                                total += tokenizer.CountTokens(text.GetString()!);
                            }
                            else if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var t) && t.ValueEquals("image_url"))
                            {
                                total += 85; // a low-detail image, OpenAI's floor
                            }
                            else if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("function", out var fn))
                            {
                                total += tokenizer.CountTokens(fn.GetRawText());
                            }
                        }
                        break;
                }
            }
        }
        if (tools is { ValueKind: JsonValueKind.Array } t2)
        {
            total += tokenizer.CountTokens(t2.GetRawText());
        }
        return total;
    }

    public int CountEmbeddingInput(string model, IReadOnlyList<string>? texts, JsonElement input)
    {
        if (texts is not null)
        {
            var tokenizer = For(model);
            var total = 0;
            foreach (var text in texts) total += tokenizer.CountTokens(text);
            return total;
        }
        // Token arrays: the count is the number of tokens given.
        var count = 0;
        foreach (var item in input.EnumerateArray())
        {
            count += item.ValueKind == JsonValueKind.Array ? item.GetArrayLength() : 1;
        }
        return count;
    }
}
