using System.ClientModel;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;
using OpenAI.Models;

namespace LlmMarketplace.Gateway.Tests.Clients;

/// <summary>The official OpenAI .NET SDK, unchanged but for the base URL, against the gateway in front of mock-llm.</summary>
public sealed class OpenAIDotNetSdkTests(MockLlmGatewayFixture fixture) : IClassFixture<MockLlmGatewayFixture>
{
    private OpenAIClient Client(string? key = null) =>
        new(new ApiKeyCredential(key ?? fixture.Host.MasterKey), new OpenAIClientOptions { Endpoint = fixture.Host.OpenAIBase, NetworkTimeout = TimeSpan.FromSeconds(30) });

    [Fact]
    public async Task Chat_returns_the_upstream_answer_with_usage()
    {
        var chat = Client().GetChatClient("gpt-4o-mini");

        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage("Hello from the dotnet SDK")]);

        Assert.Equal("Hello from the dotnet SDK", completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.NotNull(completion.Usage);
        Assert.True(completion.Usage.InputTokenCount > 0);
        Assert.True(completion.Usage.OutputTokenCount > 0);
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount);
    }

    [Fact]
    public async Task Streaming_chat_yields_the_text_and_a_final_usage_update()
    {
        var chat = Client().GetChatClient("gpt-4o-mini");
        var text = "A streamed answer that is long enough to arrive in more than one chunk from the upstream mock.";

        var parts = new List<string>();
        ChatTokenUsage? usage = null;
        var updates = 0;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage(text)]))
        {
            updates++;
            parts.AddRange(update.ContentUpdate.Select(static p => p.Text));
            usage ??= update.Usage;
        }

        Assert.Equal(text, string.Concat(parts));
        Assert.True(updates >= 3, $"expected several stream updates, got {updates}");
        Assert.NotNull(usage);
        Assert.True(usage.InputTokenCount > 0);
        Assert.True(usage.OutputTokenCount > 0);
    }

    [Fact]
    public async Task Tools_are_forwarded_and_tool_calls_come_back()
    {
        var chat = Client().GetChatClient("gpt-4o-mini");
        var options = new ChatCompletionOptions();
        options.Tools.Add(ChatTool.CreateFunctionTool(
            "get_weather",
            "Gets the weather for a city",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""")));

        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage("What is the weather in Paris?")], options);

        Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
        var call = Assert.Single(completion.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.Contains("Paris", call.FunctionArguments.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Embeddings_of_an_array_return_one_vector_per_input()
    {
        var embeddings = Client().GetEmbeddingClient("text-embedding-3-small");

        OpenAIEmbeddingCollection result = await embeddings.GenerateEmbeddingsAsync(["first text", "second text"]);

        Assert.Equal(2, result.Count);
        Assert.All(result, e => Assert.True(e.ToFloats().Length > 0));
        Assert.True(result.Usage.InputTokenCount > 0);
    }

    [Fact]
    public async Task Models_are_listed_and_retrieved()
    {
        var models = Client().GetOpenAIModelClient();

        OpenAIModelCollection list = await models.GetModelsAsync();
        OpenAIModel one = await models.GetModelAsync("gpt-4o-mini");

        Assert.Contains(list, m => m.Id == "gpt-4o-mini");
        Assert.Contains(list, m => m.Id == "text-embedding-3-small");
        Assert.Equal("gpt-4o-mini", one.Id);
    }

    [Fact]
    public async Task A_wrong_key_is_a_401()
    {
        var chat = Client("sk-wrong").GetChatClient("gpt-4o-mini");

        var ex = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(401, ex.Status);
    }

    [Fact]
    public async Task An_unknown_model_is_a_404()
    {
        var chat = Client().GetChatClient("no-such-model");

        var ex = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(404, ex.Status);
        Assert.Contains("no-such-model", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_out_of_range_parameter_is_a_400()
    {
        var chat = Client().GetChatClient("gpt-4o-mini");

        var ex = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { Temperature = 5f }));

        Assert.Equal(400, ex.Status);
        Assert.Contains("temperature", ex.Message, StringComparison.Ordinal);
    }
}

/// <summary>mock-llm plus the gateway in front of it, shared by a test class.</summary>
public sealed class MockLlmGatewayFixture : IAsyncLifetime
{
    public MockLlm Mock { get; } = new();

    public GatewayHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Mock.InitializeAsync();
        Host = await GatewayHost.StartAsync(Configs.OpenAI(Mock.BaseUrl));
    }

    public async Task DisposeAsync()
    {
        if (Host is not null) await Host.DisposeAsync();
        await Mock.DisposeAsync();
    }
}
