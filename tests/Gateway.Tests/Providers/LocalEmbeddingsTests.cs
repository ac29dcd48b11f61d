using System.ClientModel;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Gateway.Configuration;
using Microsoft.Extensions.Configuration;
using OpenAI;
using OpenAI.Embeddings;

namespace LlmMarketplace.Gateway.Tests.Providers;

/// <summary>A gateway whose only provider is the in-process <c>local</c> one: no upstream server runs at all.</summary>
public sealed class LocalEmbeddingsFixture : IAsyncLifetime
{
    public const string Yaml = """
        Providers:
          - Name: builtin
            Type: local
        Models:
          - Name: minilm
            Kind: embedding
            Deployments:
              - Provider: builtin
                Model: all-minilm-l6-v2
          - Name: minilm-priced
            Kind: embedding
            Deployments:
              - Provider: builtin
                Model: all-minilm-l6-v2
                InputPerMTok: 1000
        """;

    public GatewayHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await GatewayHost.StartAsync(Yaml);

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

public sealed class LocalEmbeddingsTests(LocalEmbeddingsFixture fixture) : IClassFixture<LocalEmbeddingsFixture>
{
    private EmbeddingClient Sdk(string model = "minilm", string? key = null) =>
        new OpenAIClient(new ApiKeyCredential(key ?? fixture.Host.MasterKey), new OpenAIClientOptions { Endpoint = fixture.Host.OpenAIBase, NetworkTimeout = TimeSpan.FromSeconds(60) })
            .GetEmbeddingClient(model);

    private static float Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return dot / MathF.Sqrt(na * nb);
    }

    [Fact]
    public async Task The_official_sdk_gets_unit_vectors_where_a_paraphrase_is_closer_than_an_unrelated_sentence()
    {
        OpenAIEmbeddingCollection result = await Sdk().GenerateEmbeddingsAsync([
            "How do I reset my password?",
            "What are the steps to change my account password?",
            "The train to Lyon leaves at nine in the morning.",
        ]);

        Assert.Equal(3, result.Count);
        var v = result.Select(static e => e.ToFloats().ToArray()).ToArray();
        Assert.All(v, x => Assert.Equal(384, x.Length));
        Assert.All(v, x => Assert.InRange(MathF.Sqrt(x.Sum(static f => f * f)), 0.999f, 1.001f));
        var paraphrase = Cosine(v[0], v[1]);
        var unrelated = Cosine(v[0], v[2]);
        Assert.True(paraphrase > 0.6f, $"paraphrase similarity {paraphrase}");
        Assert.True(unrelated < 0.2f, $"unrelated similarity {unrelated}");
        Assert.True(result.Usage.InputTokenCount > 0);
    }

    [Fact]
    public async Task Float_answers_follow_openais_format_and_count_word_piece_tokens()
    {
        using var response = await fixture.Host.Client.PostAsJsonAsync("v1/embeddings", new { model = "minilm", input = new[] { "hello world", "hello" }, encoding_format = "float" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("builtin", response.Headers.GetValues("x-gateway-provider").Single());
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = doc.RootElement;
        Assert.Equal("list", root.GetProperty("object").GetString());
        var data = root.GetProperty("data");
        Assert.Equal(2, data.GetArrayLength());
        Assert.Equal(1, data[1].GetProperty("index").GetInt32());
        Assert.Equal(384, data[0].GetProperty("embedding").GetArrayLength());
        // [CLS] hello world [SEP] and [CLS] hello [SEP]
        Assert.Equal(7, root.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(7, root.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task A_large_batch_keeps_each_input_at_its_index()
    {
        var texts = Enumerable.Range(0, 70).Select(static i => $"Sentence number {i} about topic {i % 7}.").ToArray();

        OpenAIEmbeddingCollection batch = await Sdk().GenerateEmbeddingsAsync(texts);
        OpenAIEmbedding single = await Sdk().GenerateEmbeddingAsync(texts[45]);

        Assert.Equal(70, batch.Count);
        Assert.Equal(Enumerable.Range(0, 70), batch.Select(static e => e.Index));
        Assert.True(Cosine(batch[45].ToFloats().Span, single.ToFloats().Span) > 0.9999f);
        Assert.True(Cosine(batch[44].ToFloats().Span, single.ToFloats().Span) < 0.999f);
    }

    [Fact]
    public async Task Usage_is_metered_free_unless_the_deployment_is_priced()
    {
        using var created = await fixture.Host.Client.PostAsJsonAsync("api/v1/keys", new { name = "local-" + Guid.NewGuid().ToString("N") });
        created.EnsureSuccessStatusCode();
        using var key = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        var keyId = key.RootElement.GetProperty("id").GetString();
        var secret = key.RootElement.GetProperty("key").GetString();

        await Sdk("minilm", secret).GenerateEmbeddingAsync("hello world");
        await Sdk("minilm-priced", secret).GenerateEmbeddingAsync("hello world");

        using var usage = JsonDocument.Parse(await fixture.Host.Client.GetStringAsync($"api/v1/usage?keyId={keyId}"));
        var rows = usage.RootElement.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(2, rows.Count);
        var free = rows.Single(static r => r.GetProperty("model").GetString() == "minilm");
        var priced = rows.Single(static r => r.GetProperty("model").GetString() == "minilm-priced");
        Assert.Equal(4, free.GetProperty("promptTokens").GetInt64());
        Assert.Equal(0m, free.GetProperty("costUsd").GetDecimal());
        Assert.Equal(4, priced.GetProperty("promptTokens").GetInt64());
        Assert.Equal(0.004m, priced.GetProperty("costUsd").GetDecimal());
    }

    [Fact]
    public async Task Token_arrays_and_other_dimensions_are_refused_in_openais_envelope()
    {
        using var tokens = await fixture.Host.Client.PostAsJsonAsync("v1/embeddings", new { model = "minilm", input = new[] { 101, 7592, 102 } });
        using var dims = await fixture.Host.Client.PostAsJsonAsync("v1/embeddings", new { model = "minilm", input = "hi", dimensions = 128 });

        Assert.Equal(HttpStatusCode.BadRequest, tokens.StatusCode);
        using var t = JsonDocument.Parse(await tokens.Content.ReadAsStringAsync());
        Assert.Equal("invalid_request_error", t.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal("input", t.RootElement.GetProperty("error").GetProperty("param").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, dims.StatusCode);
        using var d = JsonDocument.Parse(await dims.Content.ReadAsStringAsync());
        Assert.Equal("dimensions", d.RootElement.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public void Configuration_errors_name_the_setting()
    {
        var yaml = new Dictionary<string, string?>
        {
            ["Providers:0:Name"] = "builtin",
            ["Providers:0:Type"] = "local",
            ["Providers:0:BaseUrl"] = "http://127.0.0.1:1/v1",
            ["Models:0:Name"] = "chat-on-local",
            ["Models:0:Deployments:0:Provider"] = "builtin",
            ["Models:0:Deployments:0:Model"] = "all-minilm-l6-v2",
            ["Models:1:Name"] = "unknown-local",
            ["Models:1:Kind"] = "embedding",
            ["Models:1:Deployments:0:Provider"] = "builtin",
            ["Models:1:Deployments:0:Model"] = "bge-large",
        };
        var errors = new ValidationErrors();

        GatewayConfigReader.Read(new ConfigurationBuilder().AddInMemoryCollection(yaml).Build(), errors);

        var text = errors.ToString();
        Assert.Contains("Providers[0].BaseUrl", text);
        Assert.Contains("Models[0].Deployments[0].Provider", text);
        Assert.Contains("Models[1].Deployments[0].Model", text);
    }
}
