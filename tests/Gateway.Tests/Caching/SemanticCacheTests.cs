using System.ClientModel;
using System.ClientModel.Primitives;
using System.Globalization;
using LlmMarketplace.Gateway.Caching;
using LlmMarketplace.Gateway.Tests.Resilience;
using OpenAI;
using OpenAI.Chat;

namespace LlmMarketplace.Gateway.Tests.Caching;

/// <summary>
/// The semantic cache through the real host, the in-process embedding model and the official OpenAI SDK: paraphrases
/// are served from the cache, near misses and other teams go upstream, streams are replayed, entries are invalidated.
/// </summary>
public sealed class SemanticCacheTests : IAsyncLifetime
{
    public static string Config(string upstream, string extra = "") => $"""
        Providers:
          - Name: upstream
            Type: openai
            BaseUrl: {upstream}/v1
          - Name: builtin
            Type: local
        Models:
          - Name: m
            Deployments:
              - Provider: upstream
                Model: up
                InputPerMTok: 1
                OutputPerMTok: 2
          - Name: no-semantic
            SemanticCache: false
            Deployments:
              - Provider: upstream
                Model: up
          - Name: minilm
            Kind: embedding
            Deployments:
              - Provider: builtin
                Model: all-minilm-l6-v2
        Gateway:
          Cache:
            Enabled: true
            DefaultTtlSeconds: 600
            Semantic:
              Enabled: true
              EmbeddingModel: minilm
        {extra}
        """;

    private FakeUpstream _upstream = null!;
    private GatewayHost _host = null!;

    public async Task InitializeAsync()
    {
        _upstream = await FakeUpstream.StartAsync(Upstream.Numbered);
        _host = await GatewayHost.StartAsync(Config(_upstream.BaseUrl));
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    /// <summary>An SDK client with its own key of <paramref name="team"/>, and the headers of its last answer.</summary>
    private async Task<Sdk> ClientAsync(string team)
    {
        using var created = await _host.Client.PostAsJsonAsync("api/v1/keys", new { name = "k-" + Guid.NewGuid().ToString("N")[..6], team });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        return new Sdk(_host, body.GetProperty("key").GetString()!, body.GetProperty("team").GetString()!);
    }

    internal sealed class Sdk
    {
        private readonly HeaderCapture _headers = new();

        public Sdk(GatewayHost host, string key, string team)
        {
            Key = key;
            Team = team;
            var options = new OpenAIClientOptions { Endpoint = host.OpenAIBase, NetworkTimeout = TimeSpan.FromSeconds(60) };
            options.AddPolicy(_headers, PipelinePosition.PerCall);
            Client = new OpenAIClient(new ApiKeyCredential(key), options);
        }

        public OpenAIClient Client { get; }

        public string Key { get; }

        /// <summary>The key's team id.</summary>
        public string Team { get; }

        public string? Header(string name) => _headers.Last.TryGetValue(name, out var value) ? value : null;

        public async Task<string> AskAsync(string question, string model = "m")
        {
            ChatCompletion completion = await Client.GetChatClient(model).CompleteChatAsync([new UserChatMessage(question)]);
            return completion.Content[0].Text;
        }

        public async Task<string> StreamAsync(string question)
        {
            var parts = new List<string>();
            await foreach (var update in Client.GetChatClient("m").CompleteChatStreamingAsync([new UserChatMessage(question)]))
            {
                parts.AddRange(update.ContentUpdate.Select(static p => p.Text));
            }
            return string.Concat(parts);
        }
    }

    /// <summary>Keeps the response headers of the last call the SDK made.</summary>
    private sealed class HeaderCapture : PipelinePolicy
    {
        public Dictionary<string, string> Last { get; private set; } = [];

        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            ProcessNext(message, pipeline, currentIndex);
            Keep(message);
        }

        public override async ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            await ProcessNextAsync(message, pipeline, currentIndex);
            Keep(message);
        }

        private void Keep(PipelineMessage message) =>
            Last = message.Response!.Headers.ToDictionary(static h => h.Key.ToLowerInvariant(), static h => h.Value);
    }

    private double Threshold => _host.Service<LlmMarketplace.Gateway.Routing.ModelRegistry>().Settings.Cache.Semantic.Threshold;

    private async Task<double> SimilarityAsync(string a, string b)
    {
        var cache = _host.Service<SemanticCache>();
        var va = await cache.EmbedAsync("minilm", a, default);
        var vb = await cache.EmbedAsync("minilm", b, default);
        return ISemanticStore.Dot(va!, vb!);
    }

    [Fact]
    public async Task A_paraphrase_from_the_same_team_is_served_from_the_cache_without_the_upstream()
    {
        var first = await ClientAsync("team-a");
        var second = await ClientAsync("team-a");

        Assert.Equal("answer-0", await first.AskAsync("What is the capital of France?"));
        Assert.Equal("MISS", first.Header("x-cache"));

        Assert.Equal("answer-0", await second.AskAsync("What's the capital of France?"));
        Assert.Equal("SEMANTIC-HIT", second.Header("x-cache"));
        var similarity = double.Parse(second.Header("x-cache-similarity")!, CultureInfo.InvariantCulture);
        Assert.InRange(similarity, Threshold, 1.0);
        Assert.Equal("0", second.Header("x-gateway-cost"));
        Assert.Equal(1, _upstream.Count);
    }

    [Theory]
    [InlineData("How many calories are in 3 boiled eggs?", "How many calories are in 4 boiled eggs?")]
    [InlineData("What is the population of Spain?", "What is the population of Portugal?")]
    [InlineData("Is it safe to eat raw cookie dough?", "Is it not safe to eat raw cookie dough?")]
    [InlineData("What does the function parse_header return?", "What does the function parse_footer return?")]
    [InlineData("Translate \"good morning\" into German.", "Translate \"good night\" into German.")]
    public async Task Near_misses_go_upstream_even_when_their_embeddings_are_close(string cached, string nearMiss)
    {
        var client = await ClientAsync("team-a");
        Assert.Equal("answer-0", await client.AskAsync(cached));

        Assert.Equal("answer-1", await client.AskAsync(nearMiss));
        Assert.Equal("MISS", client.Header("x-cache"));
        Assert.Equal(2, _upstream.Count);
    }

    [Fact]
    public async Task Another_teams_identical_question_goes_upstream()
    {
        var a = await ClientAsync("team-a");
        var b = await ClientAsync("team-b");

        Assert.Equal("answer-0", await a.AskAsync("Explain how vaccines train the immune system."));
        Assert.Equal("answer-1", await b.AskAsync("Explain how vaccines train the immune system."));
        Assert.Equal("MISS", b.Header("x-cache"));
        Assert.Equal("answer-1", await b.AskAsync("Explain how vaccines train the immune system"));
        Assert.Equal("SEMANTIC-HIT", b.Header("x-cache"));
        Assert.Equal(2, _upstream.Count);
    }

    [Fact]
    public async Task A_streamed_answer_is_replayed_as_a_stream()
    {
        var a = await ClientAsync("team-a");
        Assert.Equal("streamed-0 end", await a.StreamAsync("Explain what a hash table is."));
        Assert.Equal("MISS", a.Header("x-cache"));

        Assert.Equal("streamed-0 end", await a.StreamAsync("Can you explain what a hash table is?"));
        Assert.Equal("SEMANTIC-HIT", a.Header("x-cache"));
        Assert.StartsWith("text/event-stream", a.Header("content-type"));
        Assert.Equal(1, _upstream.Count);

        // A streamed answer never serves a request that is not streamed, nor the other way round.
        Assert.Equal("answer-1", await a.AskAsync("Can you explain what a hash table is?"));
        Assert.Equal(2, _upstream.Count);
    }

    [Fact]
    public async Task A_model_may_switch_the_semantic_cache_off()
    {
        var a = await ClientAsync("team-a");
        Assert.Equal("answer-0", await a.AskAsync("What is the capital of France?", "no-semantic"));
        Assert.Equal("answer-1", await a.AskAsync("What's the capital of France?", "no-semantic"));
        Assert.Equal("MISS", a.Header("x-cache"));
        // The exact cache still serves it.
        Assert.Equal("answer-1", await a.AskAsync("What's the capital of France?", "no-semantic"));
        Assert.Equal("HIT", a.Header("x-cache"));
    }

    [Fact]
    public async Task Entries_are_invalidated_by_team_model_and_age_by_admins_only()
    {
        var a = await ClientAsync("team-a");
        var b = await ClientAsync("team-b");
        Assert.Equal("answer-0", await a.AskAsync("What is the boiling point of water at sea level?"));
        Assert.Equal("answer-1", await b.AskAsync("What is the boiling point of water at sea level?"));

        // Only admins.
        using (var refused = await Raw(b, "api/v1/gateway/cache/semantic")) Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using (var bad = await _host.Client.DeleteAsync("api/v1/gateway/cache/semantic?olderThanSeconds=-5"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Contains("olderThanSeconds", await bad.Content.ReadAsStringAsync());
        }

        // Younger than an hour: nothing is older.
        Assert.Equal(0, await InvalidateAsync("olderThanSeconds=3600"));
        Assert.Equal(0, await InvalidateAsync("model=no-semantic"));
        Assert.Equal(1, await InvalidateAsync($"team={b.Team}&model=m"));
        Assert.Equal("answer-2", await b.AskAsync("What's the boiling point of water at sea level?"));
        Assert.Equal("MISS", b.Header("x-cache"));
        Assert.Equal("answer-0", await a.AskAsync("What's the boiling point of water at sea level?"));
        Assert.Equal("SEMANTIC-HIT", a.Header("x-cache"));

        // Everything older than now: both teams' entries.
        Assert.Equal(2, await InvalidateAsync("olderThanSeconds=0"));
        Assert.Equal("answer-3", await a.AskAsync("Tell me the boiling point of water at sea level."));
        Assert.Equal("MISS", a.Header("x-cache"));
    }

    private async Task<long> InvalidateAsync(string query)
    {
        using var response = await _host.Client.DeleteAsync("api/v1/gateway/cache/semantic?" + query);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("removed").GetInt64();
    }

    private async Task<HttpResponseMessage> Raw(Sdk sdk, string path)
    {
        using var client = new HttpClient { BaseAddress = _host.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", sdk.Key);
        return await client.DeleteAsync(path);
    }
}
