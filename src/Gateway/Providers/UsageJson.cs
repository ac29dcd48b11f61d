namespace LlmMarketplace.Gateway.Providers;

/// <summary>Reads and writes OpenAI's <c>usage</c> object.</summary>
internal static class UsageJson
{
    public static TokenUsage? ReadOpenAI(JsonElement root)
    {
        if (!root.TryGetProperty("usage", out var usage) || usage.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        long cached = 0, reasoning = 0;
        if (usage.TryGetProperty("prompt_tokens_details", out var pd) && pd.ValueKind == JsonValueKind.Object)
        {
            cached = Long(pd, "cached_tokens");
        }
        if (usage.TryGetProperty("completion_tokens_details", out var cd) && cd.ValueKind == JsonValueKind.Object)
        {
            reasoning = Long(cd, "reasoning_tokens");
        }
        var prompt = Long(usage, "prompt_tokens");
        var completion = Long(usage, "completion_tokens");
        if (prompt == 0 && completion == 0 && !usage.TryGetProperty("prompt_tokens", out _))
        {
            return null;
        }
        return new TokenUsage(prompt, completion, cached, 0, reasoning);
    }

    public static long Long(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var l) ? l : 0;

    public static void Write(Utf8JsonWriter writer, TokenUsage usage, bool embeddings = false, decimal? cost = null)
    {
        writer.WriteStartObject("usage"u8);
        writer.WriteNumber("prompt_tokens"u8, usage.PromptTokens);
        if (!embeddings)
        {
            writer.WriteNumber("completion_tokens"u8, usage.CompletionTokens);
        }
        writer.WriteNumber("total_tokens"u8, usage.TotalTokens);
        if (!embeddings)
        {
            writer.WriteStartObject("prompt_tokens_details"u8);
            writer.WriteNumber("cached_tokens"u8, usage.CachedTokens);
            writer.WriteEndObject();
            writer.WriteStartObject("completion_tokens_details"u8);
            writer.WriteNumber("reasoning_tokens"u8, usage.ReasoningTokens);
            writer.WriteEndObject();
        }
        if (cost is { } c)
        {
            // The cost extension OpenRouter uses: USD of this call at the deployment's prices.
            writer.WriteNumber("cost"u8, c);
        }
        writer.WriteEndObject();
    }

    /// <summary>Copies a stream chunk, adding <c>usage.cost</c> (USD) to its usage object.</summary>
    public static void WriteChunkWithCost(Utf8JsonWriter writer, JsonElement chunk, decimal cost)
    {
        writer.WriteStartObject();
        foreach (var property in chunk.EnumerateObject())
        {
            if (property.NameEquals("usage"u8) && property.Value.ValueKind == JsonValueKind.Object)
            {
                writer.WriteStartObject("usage"u8);
                foreach (var field in property.Value.EnumerateObject())
                {
                    if (!field.NameEquals("cost"u8)) field.WriteTo(writer);
                }
                writer.WriteNumber("cost"u8, cost);
                writer.WriteEndObject();
                continue;
            }
            property.WriteTo(writer);
        }
        writer.WriteEndObject();
    }

    /// <summary>Copies a JSON object, replacing or adding its <c>usage</c> property.</summary>
    public static byte[] WithUsage(ReadOnlySpan<byte> body, TokenUsage usage, bool embeddings = false)
    {
        using var document = JsonDocument.Parse(body.ToArray());
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(body.Length + 200);
        using (var writer = new Utf8JsonWriter(buffer, Streaming.JsonDefaults.WriterOptions))
        {
            writer.WriteStartObject();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.NameEquals("usage"u8)) continue;
                property.WriteTo(writer);
            }
            Write(writer, usage, embeddings);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
