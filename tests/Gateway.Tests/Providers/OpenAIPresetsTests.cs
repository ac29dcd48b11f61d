using System.ClientModel;
using System.Collections.Concurrent;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Providers;
using Microsoft.Extensions.Configuration;
using OpenAI;
using OpenAI.Chat;
using static LlmMarketplace.Gateway.Tests.Providers.ProviderTestKit;

namespace LlmMarketplace.Gateway.Tests.Providers;

/// <summary>
/// One fake OpenAI-compatible upstream and a gateway with a provider of every preset type, each with its <c>BaseUrl</c>
/// overridden to the fake plus the preset's own path, and each hosted one with a key of its own.
/// </summary>
public sealed class OpenAIPresetsFixture : IAsyncLifetime
{
    private readonly List<EnvSecret> _keys = [];

    public FakeUpstream Upstream { get; private set; } = null!;

    public GatewayHost Host { get; private set; } = null!;

    /// <summary>The key each provider was given (by provider name), none for local servers without one.</summary>
    public Dictionary<string, string> Keys { get; } = [];

    public ConcurrentQueue<ReceivedRequest> Seen { get; } = new();

    internal static string PathOf(OpenAIPreset preset) => preset.DefaultBaseUrl.AbsolutePath.TrimEnd('/');

    public async Task InitializeAsync()
    {
        Upstream = await FakeUpstream.StartAsync((context, _) =>
        {
            Seen.Enqueue(FakeUpstream.Received(context));
            return FakeUpstream.Json(context, """
                {"id":"chatcmpl-p","object":"chat.completion","created":1,"model":"upstream","choices":[{"index":0,"message":{"role":"assistant","content":"preset ok"},"finish_reason":"stop"}],
                 "usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}
                """);
        });
        var yaml = new List<string> { SharedGateway, "Providers:" };
        var models = new List<string> { "Models:" };
        void Add(string name, OpenAIPreset preset, bool withKey, params string[] extra)
        {
            yaml.Add($"  - Name: {name}");
            yaml.Add($"    Type: {preset.Name}");
            yaml.Add($"    BaseUrl: {Upstream.BaseUrl}{PathOf(preset)}");
            if (withKey)
            {
                var key = new EnvSecret("PRESET");
                _keys.Add(key);
                Keys[name] = key.Value;
                yaml.Add($"    ApiKey: {key.Reference}");
            }
            yaml.AddRange(extra);
            models.Add($"  - Name: model-{name}");
            models.Add("    Deployments:");
            models.Add($"      - Provider: {name}");
            models.Add($"        Model: upstream-{name}");
        }
        foreach (var preset in OpenAIPresets.All)
        {
            Add(preset.Name, preset, withKey: preset.ApiKeyRequired, preset.Type == ProviderType.OpenRouter
                ? ["    Headers:", "      HTTP-Referer: https://marketplace.example", "      X-Title: LLM Marketplace"]
                : []);
        }
        OpenAIPresets.TryGet(ProviderType.Vllm, out var vllm);
        Add("vllm-with-key", vllm, withKey: true);
        Host = await GatewayHost.StartAsync(string.Join("\n", yaml.Concat(models)));
    }

    public async Task DisposeAsync()
    {
        if (Host is not null) await Host.DisposeAsync();
        if (Upstream is not null) await Upstream.DisposeAsync();
        foreach (var key in _keys) key.Dispose();
    }
}

/// <summary>The OpenAI-compatible presets: their base paths, auth and quirks, and their default base URLs.</summary>
public sealed class OpenAIPresetsTests(OpenAIPresetsFixture fixture) : IClassFixture<OpenAIPresetsFixture>
{
    /// <summary>Each hosted service's documented OpenAI-compatible base URL, and each local server's default.</summary>
    private static readonly Dictionary<string, string> Expected = new()
    {
        ["mistral"] = "https://api.mistral.ai/v1",
        ["groq"] = "https://api.groq.com/openai/v1",
        ["together"] = "https://api.together.xyz/v1",
        ["fireworks"] = "https://api.fireworks.ai/inference/v1",
        ["deepseek"] = "https://api.deepseek.com",
        ["xai"] = "https://api.x.ai/v1",
        ["openrouter"] = "https://openrouter.ai/api/v1",
        ["perplexity"] = "https://api.perplexity.ai",
        ["vllm"] = "http://127.0.0.1:8000/v1",
        ["ollama"] = "http://127.0.0.1:11434/v1",
        ["lmstudio"] = "http://127.0.0.1:1234/v1",
        ["llamacpp"] = "http://127.0.0.1:8080/v1",
        ["tgi"] = "http://127.0.0.1:8080/v1",
    };

    public static TheoryData<string> Names() => [.. OpenAIPresets.All.Select(static p => p.Name)];

    private ChatClient Chat(string model) =>
        new(model, new ApiKeyCredential(fixture.Host.MasterKey), new OpenAIClientOptions { Endpoint = fixture.Host.OpenAIBase, NetworkTimeout = TimeSpan.FromSeconds(30) });

    private async Task<ReceivedRequest> CallAsync(string provider)
    {
        fixture.Seen.Clear();
        ChatCompletion completion = await Chat("model-" + provider).CompleteChatAsync([new UserChatMessage("hi")]);
        Assert.Equal("preset ok", completion.Content[0].Text);
        return Assert.Single(fixture.Seen);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public async Task Each_preset_calls_its_base_path_with_bearer_auth_only_when_it_has_a_key(string name)
    {
        OpenAIPresets.TryGet(Enum.Parse<ProviderType>(name, ignoreCase: true), out var preset);

        var request = await CallAsync(name);

        Assert.Equal(OpenAIPresetsFixture.PathOf(preset) + "/chat/completions", request.PathAndQuery);
        Assert.Equal("upstream-" + name, request.Json.GetProperty("model").GetString());
        if (fixture.Keys.TryGetValue(name, out var key))
        {
            Assert.Equal("Bearer " + key, request.Headers["authorization"]);
        }
        else
        {
            Assert.False(preset.ApiKeyRequired);
            Assert.False(request.Headers.ContainsKey("authorization"), "a local server without a key gets no Authorization header (and never the client's gateway key)");
        }
    }

    [Fact]
    public async Task A_local_server_given_a_key_gets_it_as_a_bearer_token()
    {
        var request = await CallAsync("vllm-with-key");

        Assert.Equal("Bearer " + fixture.Keys["vllm-with-key"], request.Headers["authorization"]);
    }

    [Fact]
    public async Task OpenRouter_gets_its_attribution_headers_from_Headers()
    {
        var request = await CallAsync("openrouter");

        Assert.Equal("https://marketplace.example", request.Headers["http-referer"]);
        Assert.Equal("LLM Marketplace", request.Headers["x-title"]);
    }

    [Fact]
    public async Task Fields_a_preset_refuses_are_dropped_and_kept_for_the_others()
    {
        const string Body = """{"model":"MODEL","messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":2,"logit_bias":{"50256":-100},"seed":7}""";

        fixture.Seen.Clear();
        await OkJsonAsync(await ChatAsync(fixture.Host, Body.Replace("MODEL", "model-groq", StringComparison.Ordinal)));
        var groq = Assert.Single(fixture.Seen).Json;
        fixture.Seen.Clear();
        await OkJsonAsync(await ChatAsync(fixture.Host, Body.Replace("MODEL", "model-mistral", StringComparison.Ordinal)));
        var mistral = Assert.Single(fixture.Seen).Json;

        foreach (var field in new[] { "logprobs", "top_logprobs", "logit_bias" })
        {
            Assert.False(groq.TryGetProperty(field, out _), $"groq refuses {field}; it must not be sent");
            Assert.True(mistral.TryGetProperty(field, out _), $"mistral takes {field}");
        }
        Assert.Equal(7, groq.GetProperty("seed").GetInt32());
    }

    [Fact]
    public void The_preset_table_has_the_documented_default_base_urls()
    {
        Assert.Equal(Expected.Keys.Order(), OpenAIPresets.All.Select(static p => p.Name).Order());
        var configurationDoc = File.ReadAllLines(Path.Combine(TestPaths.RepositoryRoot, "docs", "configuration.md"));
        var readme = File.ReadAllLines(Path.Combine(TestPaths.RepositoryRoot, "README.md"));
        foreach (var preset in OpenAIPresets.All)
        {
            Assert.Equal(Expected[preset.Name], preset.DefaultBaseUrl.OriginalString);
            Assert.Equal(preset.Local, !preset.ApiKeyRequired);
            foreach (var (doc, lines) in new[] { ("docs/configuration.md", configurationDoc), ("README.md", readme) })
            {
                var row = lines.SingleOrDefault(l => l.StartsWith($"| `{preset.Name}` |", StringComparison.Ordinal));
                Assert.True(row is not null, $"{doc} has no table row for the preset '{preset.Name}'");
                Assert.Contains($"`{preset.DefaultBaseUrl.OriginalString}`", row, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void A_hosted_preset_needs_a_key_and_takes_its_base_url_from_the_table()
    {
        var errors = new ValidationErrors();
        var config = GatewayConfigReader.Read(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Providers:0:Name"] = "groq",
            ["Providers:0:Type"] = "groq",
            ["Providers:1:Name"] = "ollama",
            ["Providers:1:Type"] = "ollama",
            ["Models:0:Name"] = "m",
            ["Models:0:Deployments:0:Provider"] = "ollama",
        }).Build(), errors);

        Assert.Contains("Providers[0].ApiKey: is required for groq", errors.ToString(), StringComparison.Ordinal);
        Assert.Equal(new Uri("http://127.0.0.1:11434/v1"), Assert.Single(config.Providers, static p => p.Name == "ollama").BaseUrl);
        Assert.Equal(1, errors.Count);
    }
}
