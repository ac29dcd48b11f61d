namespace LlmMarketplace.Gateway.Providers;

/// <summary>Token counts of one call, in OpenAI's terms (prompt tokens include cached ones; completion tokens include reasoning).</summary>
public readonly record struct TokenUsage(long PromptTokens, long CompletionTokens, long CachedTokens = 0, long CacheWriteTokens = 0, long ReasoningTokens = 0)
{
    public long TotalTokens => PromptTokens + CompletionTokens;

    public static TokenUsage operator +(TokenUsage a, TokenUsage b) => new(
        a.PromptTokens + b.PromptTokens,
        a.CompletionTokens + b.CompletionTokens,
        a.CachedTokens + b.CachedTokens,
        a.CacheWriteTokens + b.CacheWriteTokens,
        a.ReasoningTokens + b.ReasoningTokens);
}
