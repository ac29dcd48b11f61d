using LlmMarketplace.Gateway.Caching;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.SemanticCacheBench;
using Microsoft.Extensions.Configuration;
using Xunit.Abstractions;

namespace LlmMarketplace.Gateway.Tests.Caching;

/// <summary>
/// The semantic cache on the paraphrase set (bench/semantic-cache/paraphrases.json, written for this project): at the
/// default threshold, what it serves answers the question asked. Bounds chosen from bench/results/semantic-cache.md
/// (precision 98.6%, hit rate 61% there), with room for a different ONNX Runtime build's rounding.
/// </summary>
public sealed class SemanticCachePrecisionTests(ITestOutputHelper output)
{
    [Fact]
    public async Task At_the_default_threshold_answers_served_from_the_cache_answer_the_question_asked()
    {
        var evaluation = await ParaphraseEvaluation.CreateAsync(Path.Combine(AppContext.BaseDirectory, "Caching", "paraphrases.json"));
        Assert.True(evaluation.Items.Count >= 100, $"only {evaluation.Items.Count} base questions");
        var threshold = SemanticCacheSettings.Default.Threshold;

        var score = await evaluation.ScoreAsync(threshold);
        var unguarded = await evaluation.ScoreAsync(threshold, guarded: false);
        output.WriteLine($"threshold {threshold}: precision {score.Precision:P1} ({score.ServedRight}/{score.Served}), hit rate {score.HitRate:P1}, decoys served {score.DecoysServed}/{score.Decoys}; without the guard {unguarded.Precision:P1}, {unguarded.DecoysServed} decoys");

        Assert.True(score.Precision >= 0.97, $"precision {score.Precision:P1}");
        Assert.True(score.HitRate >= 0.5, $"hit rate {score.HitRate:P1}");
        // The guard refuses decoys the embeddings alone would serve.
        Assert.True(score.DecoysServed < unguarded.DecoysServed, $"{score.DecoysServed} decoys served with the guard, {unguarded.DecoysServed} without");
    }

    [Theory]
    [InlineData("How many calories are in 3 boiled eggs?", "How many calories are in three boiled eggs?", true)]
    [InlineData("How many calories are in 3 boiled eggs?", "How many calories are in four boiled eggs?", false)]
    [InlineData("What is the capital of France?", "what's the capital of France?", true)]
    [InlineData("What is the capital of France?", "What is the capital of Germany?", false)]
    [InlineData("Is it safe to eat raw cookie dough?", "Isn't it safe to eat raw cookie dough?", false)]
    [InlineData("What does parse_header return?", "What does parse_footer return?", false)]
    [InlineData("What does getUserById return?", "Tell me what getUserById returns.", true)]
    [InlineData("Translate \"good morning\" into German.", "How do you say \"good morning\" in German?", true)]
    [InlineData("Translate \"good morning\" into German.", "Translate \"good night\" into German.", false)]
    [InlineData("How do I convert Celsius to Fahrenheit?", "How do I convert Fahrenheit to Celsius?", false)]
    public void The_guard_keeps_numbers_names_quotes_identifiers_and_negation(string a, string b, bool same)
    {
        Assert.Equal(same, ParaphraseEvaluation.Prompt(a).Guard == ParaphraseEvaluation.Prompt(b).Guard);
    }
}

/// <summary>The semantic cache's settings are checked at start, every mistake named with its path.</summary>
public sealed class SemanticCacheSettingsTests
{
    [Fact]
    public void Wrong_settings_are_refused_with_their_paths()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Providers:0:Name"] = "up",
            ["Providers:0:BaseUrl"] = "https://upstream.invalid/v1",
            ["Models:0:Name"] = "chat",
            ["Models:0:Deployments:0:Provider"] = "up",
            ["Models:0:Deployments:0:Model"] = "up",
            ["Models:0:SemanticCache:Threshold"] = "1.5",
            ["Models:0:SemanticCache:Bogus"] = "1",
            ["Gateway:Cache:Enabled"] = "true",
            ["Gateway:Cache:Semantic:Enabled"] = "true",
            ["Gateway:Cache:Semantic:EmbeddingModel"] = "chat",
            ["Gateway:Cache:Semantic:Scope"] = "everyone",
        };
        var errors = new LlmMarketplace.BuildingBlocks.Validation.ValidationErrors();

        GatewayConfigReader.Read(new ConfigurationBuilder().AddInMemoryCollection(settings).Build(), errors);

        var text = errors.ToString();
        Assert.Contains("Gateway.Cache.Semantic.EmbeddingModel", text);
        Assert.Contains("Gateway.Cache.Semantic.Scope", text);
        Assert.Contains("Models[0].SemanticCache.Threshold", text);
        Assert.Contains("Models[0].SemanticCache.Bogus", text);
    }

    [Fact]
    public void A_model_names_its_own_threshold_or_switches_it_off()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Providers:0:Name"] = "builtin",
            ["Providers:0:Type"] = "local",
            ["Models:0:Name"] = "minilm",
            ["Models:0:Kind"] = "embedding",
            ["Models:0:Deployments:0:Provider"] = "builtin",
            ["Models:0:Deployments:0:Model"] = "all-minilm-l6-v2",
            ["Models:1:Name"] = "strict",
            ["Models:1:SemanticCache:Threshold"] = "0.98",
            ["Models:1:Deployments:0:Provider"] = "up",
            ["Models:1:Deployments:0:Model"] = "up",
            ["Providers:1:Name"] = "up",
            ["Providers:1:BaseUrl"] = "https://upstream.invalid/v1",
            ["Gateway:Cache:Semantic:Enabled"] = "true",
            ["Gateway:Cache:Semantic:EmbeddingModel"] = "minilm",
            ["Gateway:Cache:Semantic:Scope"] = "key",
        };
        var errors = new LlmMarketplace.BuildingBlocks.Validation.ValidationErrors();

        var config = GatewayConfigReader.Read(new ConfigurationBuilder().AddInMemoryCollection(settings).Build(), errors);

        Assert.True(errors.IsEmpty, errors.ToString());
        Assert.Equal(SemanticCacheScope.Key, config.Settings.Cache.Semantic.Scope);
        Assert.Equal(0.98, config.Models.Single(static m => m.Name == "strict").SemanticCache!.Threshold);
    }
}
