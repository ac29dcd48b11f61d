using System.Globalization;
using LlmMarketplace.Catalog.Search;
using Xunit.Abstractions;

namespace LlmMarketplace.Catalog.Tests.Search;

/// <summary>
/// Search relevance on the real 364-model OpenRouter catalog: natural queries a user would type, each with the
/// listings a knowledgeable person expects at the top (read from the model descriptions). Reports MRR@10.
/// </summary>
public sealed class RelevanceTests(ITestOutputHelper output)
{
    /// <summary>Query → the listings that are a right first answer.</summary>
    public static readonly (string Query, string[] Relevant)[] Judgements =
    [
        ("claude sonnet", ["anthropic/claude-sonnet-4.6", "~anthropic/claude-sonnet-latest", "anthropic/claude-sonnet-4.5", "anthropic/claude-sonnet-4"]),
        ("gpt-4o mini", ["openai/gpt-4o-mini", "openai/gpt-4o-mini-2024-07-18"]),
        ("gpt 4o", ["openai/gpt-4o", "openai/gpt-4o-2024-11-20", "openai/gpt-4o-2024-08-06", "openai/gpt-4o-2024-05-13"]),
        ("llama 3.3 70b", ["meta-llama/llama-3.3-70b-instruct", "meta-llama/llama-3.3-70b-instruct:free"]),
        ("deepseek r1", ["deepseek/deepseek-r1", "deepseek/deepseek-r1-0528"]),
        ("mistral nemo", ["mistralai/mistral-nemo"]),
        ("gemini 2.5 pro", ["google/gemini-2.5-pro", "google/gemini-2.5-pro-preview", "google/gemini-2.5-pro-preview-05-06"]),
        ("qwen coder", ["qwen/qwen3-coder", "qwen/qwen3-coder:free", "qwen/qwen3-coder-next", "qwen/qwen3-coder-plus", "qwen/qwen3-coder-flash", "qwen/qwen3-coder-30b-a3b-instruct", "qwen/qwen-2.5-coder-32b-instruct"]),
        ("image generation", ["google/gemini-2.5-flash-image", "google/gemini-3-pro-image-preview", "google/gemini-3.1-flash-image-preview", "openai/gpt-5-image", "openai/gpt-5-image-mini", "openai/gpt-5.4-image-2"]),
        ("roleplay", ["sao10k/l3.3-euryale-70b", "sao10k/l3.1-euryale-70b", "sao10k/l3-euryale-70b", "minimax/minimax-m2-her", "aion-labs/aion-rp-llama-3.1-8b", "aion-labs/aion-2.0", "sao10k/l3-lunaris-8b", "gryphe/mythomax-l2-13b", "thedrummer/unslopnemo-12b"]),
        ("content safety classifier", ["meta-llama/llama-guard-3-8b", "meta-llama/llama-guard-4-12b", "openai/gpt-oss-safeguard-20b"]),
        ("web search with citations", ["perplexity/sonar", "perplexity/sonar-pro", "perplexity/sonar-pro-search", "perplexity/sonar-reasoning-pro", "openai/gpt-4o-search-preview", "openai/gpt-4o-mini-search-preview"]),
        ("deep research", ["openai/o3-deep-research", "openai/o4-mini-deep-research", "perplexity/sonar-deep-research", "alibaba/tongyi-deepresearch-30b-a3b"]),
        ("music generation", ["google/lyria-3-pro-preview", "google/lyria-3-clip-preview"]),
        ("audio model with natural voices", ["openai/gpt-audio", "openai/gpt-audio-mini", "openai/gpt-4o-audio-preview"]),
        ("ocr", ["baidu/qianfan-ocr-fast"]),
        ("apply code edits", ["morph/morph-v3-fast", "morph/morph-v3-large", "relace/relace-apply-3"]),
        ("codex", ["openai/gpt-5.3-codex", "openai/gpt-5.2-codex", "openai/gpt-5.1-codex", "openai/gpt-5.1-codex-max", "openai/gpt-5.1-codex-mini", "openai/gpt-5-codex"]),
        ("kimi", ["moonshotai/kimi-k2.6", "moonshotai/kimi-k2.5", "~moonshotai/kimi-latest", "moonshotai/kimi-k2-thinking", "moonshotai/kimi-k2", "moonshotai/kimi-k2-0905"]),
        ("grok fast", ["x-ai/grok-4.1-fast", "x-ai/grok-4-fast", "x-ai/grok-code-fast-1"]),
        ("nemotron nano", ["nvidia/nemotron-nano-9b-v2", "nvidia/nemotron-nano-9b-v2:free", "nvidia/nemotron-nano-12b-v2-vl:free", "nvidia/nemotron-3-nano-30b-a3b", "nvidia/nemotron-3-nano-30b-a3b:free", "nvidia/nemotron-3-nano-omni-30b-a3b-reasoning:free"]),
        ("gemma 3 27b", ["google/gemma-3-27b-it"]),
        ("phi 4", ["microsoft/phi-4", "microsoft/phi-4-mini-instruct"]),
        ("command r plus", ["cohere/command-r-plus-08-2024"]),
        ("amazon nova", ["amazon/nova-2-lite-v1", "amazon/nova-premier-v1", "amazon/nova-lite-v1", "amazon/nova-micro-v1", "amazon/nova-pro-v1"]),
        ("router that picks the best model for my prompt", ["openrouter/auto", "switchpoint/router", "openrouter/pareto-code", "openrouter/free"]),
        ("gui agent for desktop and web interfaces", ["bytedance/ui-tars-1.5-7b"]),
        ("claude haiku", ["anthropic/claude-haiku-4.5", "~anthropic/claude-haiku-latest", "anthropic/claude-3.5-haiku", "anthropic/claude-3-haiku"]),
        ("mixtral 8x22b", ["mistralai/mixtral-8x22b-instruct"]),
        ("hermes 3", ["nousresearch/hermes-3-llama-3.1-70b", "nousresearch/hermes-3-llama-3.1-405b", "nousresearch/hermes-3-llama-3.1-405b:free"]),
        ("uncensored creative writing", ["thedrummer/cydonia-24b-v4.1", "cognitivecomputations/dolphin-mistral-24b-venice-edition:free"]),
        ("mistral saba middle east", ["mistralai/mistral-saba"]),
        ("on-device model for phones", ["google/gemma-3n-e4b-it", "liquid/lfm-2.5-1.2b-instruct:free", "liquid/lfm-2-24b-a2b", "liquid/lfm-2.5-1.2b-thinking:free"]),
        // typos
        ("antropic claude opus", ["anthropic/claude-opus-4.7", "~anthropic/claude-opus-latest", "anthropic/claude-opus-4.6", "anthropic/claude-opus-4.5", "anthropic/claude-opus-4.1", "anthropic/claude-opus-4"]),
        ("deepsek v3", ["deepseek/deepseek-chat", "deepseek/deepseek-chat-v3.1", "deepseek/deepseek-v3.2", "deepseek/deepseek-v3.2-exp", "deepseek/deepseek-v3.1-terminus", "deepseek/deepseek-v3.2-speciale"]),
        ("gemni flash", ["google/gemini-2.5-flash", "~google/gemini-flash-latest", "google/gemini-3-flash-preview", "google/gemini-2.0-flash-001", "google/gemini-2.5-flash-lite", "google/gemini-3.1-flash-lite", "google/gemini-3.1-flash-lite-preview", "google/gemini-2.0-flash-lite-001", "google/gemini-2.5-flash-lite-preview-09-2025"]),
        ("mistrall large", ["mistralai/mistral-large", "mistralai/mistral-large-2512", "mistralai/mistral-large-2411", "mistralai/mistral-large-2407"]),
    ];

    [Fact]
    public void Mean_reciprocal_rank_at_10_on_the_real_catalog_is_at_least_0_8()
    {
        var index = CatalogData.OpenRouterIndex;
        Assert.Equal(364, index.Count);
        Assert.True(Judgements.Length >= 30);
        var total = 0.0;
        foreach (var (query, relevant) in Judgements)
        {
            foreach (var id in relevant) Assert.NotNull(index.Find(id)); // the judgement names real listings
            var hits = index.Search(new SearchQuery { Text = query, Limit = 10, Facets = false }).Hits;
            var rank = hits.Select((h, i) => (h, i)).FirstOrDefault(x => relevant.Contains(x.h.Document.Slug)).i is var i && hits.Count > 0 && relevant.Contains(hits[i].Document.Slug) ? i + 1 : 0;
            var rr = rank == 0 ? 0 : 1.0 / rank;
            total += rr;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{rr,5:0.00}  {query,-50} top: {string.Join(", ", hits.Take(3).Select(static h => h.Document.Slug))}"));
        }
        var mrr = total / Judgements.Length;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"MRR@10 = {mrr:0.000} over {Judgements.Length} queries"));
        Assert.True(mrr >= 0.8, string.Create(CultureInfo.InvariantCulture, $"MRR@10 is {mrr:0.000}"));
    }
}
