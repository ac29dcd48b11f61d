#pragma warning disable OPENAI001 // The Responses client is marked experimental by the SDK.
using System.ClientModel;
using Anthropic;
using Anthropic.Core;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using OpenAI;
using OpenAI.Responses;

namespace LlmMarketplace.Gateway.Tests.Clients;

/// <summary>A fake OpenAI-type upstream and the gateway in front of it, shared by a test class.</summary>
public sealed class OpenAIFakeGatewayFixture : IAsyncLifetime
{
    public FakeUpstream Upstream { get; private set; } = null!;

    public GatewayHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Upstream = await FakeUpstream.StartAsync(OpenAIFake.AnswerAsync);
        Host = await GatewayHost.StartAsync(Configs.OpenAI(Upstream.BaseUrl + "/v1"));
    }

    public async Task DisposeAsync()
    {
        if (Host is not null) await Host.DisposeAsync();
        if (Upstream is not null) await Upstream.DisposeAsync();
    }
}

/// <summary>
/// The official OpenAI .NET SDK calling the Responses API and the official Anthropic .NET SDK calling the Messages
/// API, against the real host with its base URL pointed at the gateway (OpenAI-type upstream behind it).
/// </summary>
public sealed class OfficialSdkProtocolTests(OpenAIFakeGatewayFixture fixture) : IClassFixture<OpenAIFakeGatewayFixture>
{
    private const string WeatherSchema = """{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""";

    private ResponsesClient Responses(string? key = null) =>
        new OpenAIClient(new ApiKeyCredential(key ?? fixture.Host.MasterKey), new OpenAIClientOptions { Endpoint = fixture.Host.OpenAIBase }).GetResponsesClient();

    private AnthropicClient Anthropic(string? key = null) => new(new ClientOptions
    {
        ApiKey = key ?? fixture.Host.MasterKey,
        BaseUrl = fixture.Host.BaseAddress.ToString().TrimEnd('/'),
        MaxRetries = 0,
    });

    [Fact]
    public async Task The_openai_sdk_creates_a_response()
    {
        ResponseResult response = await Responses().CreateResponseAsync("gpt-4o-mini", "Say hello");

        Assert.Equal("Hello", response.GetOutputText());
        Assert.StartsWith("resp", response.Id, StringComparison.Ordinal);
        Assert.Equal("gpt-4o-mini", response.Model);
        Assert.Equal(12, response.Usage.InputTokenCount);
        Assert.Equal(3, response.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task The_openai_sdk_streams_a_response()
    {
        var deltas = new List<string>();
        ResponseResult? completed = null;
        await foreach (var update in await Responses().CreateResponseStreamingAsync("gpt-4o-mini", "Say hello"))
        {
            if (update is StreamingResponseOutputTextDeltaUpdate delta) deltas.Add(delta.Delta);
            if (update is StreamingResponseCompletedUpdate done) completed = done.Response;
        }

        Assert.Equal(["Hel", "lo"], deltas);
        Assert.NotNull(completed);
        Assert.Equal("Hello", completed.GetOutputText());
        Assert.Equal(15, completed.Usage.InputTokenCount + completed.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task The_openai_sdk_gets_a_function_call_back()
    {
        var options = new CreateResponseOptions { Model = "gpt-4o-mini" };
        options.InputItems.Add(ResponseItem.CreateUserMessageItem("What is the weather in Paris?"));
        options.Tools.Add(ResponseTool.CreateFunctionTool("get_weather", BinaryData.FromString(WeatherSchema), strictModeEnabled: false, functionDescription: "Weather of a city"));
        var before = fixture.Upstream.Requests.Count;

        ResponseResult response = await Responses().CreateResponseAsync(options);

        var call = Assert.IsType<FunctionCallResponseItem>(Assert.Single(response.OutputItems));
        Assert.Equal("get_weather", call.FunctionName);
        Assert.Equal("Paris", JsonDocument.Parse(call.FunctionArguments.ToString()).RootElement.GetProperty("city").GetString());
        Assert.False(string.IsNullOrEmpty(call.CallId));
        // The upstream got the tool as a chat function tool.
        var sent = fixture.Upstream.Requests.Skip(before).Single().Json;
        Assert.Equal("get_weather", sent.GetProperty("tools")[0].GetProperty("function").GetProperty("name").GetString());
    }

    [Fact]
    public async Task The_anthropic_sdk_creates_a_message_with_a_system_prompt()
    {
        var before = fixture.Upstream.Requests.Count;
        var message = await Anthropic().Messages.Create(new MessageCreateParams
        {
            Model = "gpt-4o-mini",
            MaxTokens = 100,
            System = "You are terse.",
            Messages = [new UserMessageParam { Content = "Say hello" }],
        });

        var text = string.Concat(message.Content.Select(static b => b.TryPickText(out var t) ? t.Text : ""));
        Assert.Equal("Hello", text);
        Assert.Equal(12, message.Usage.InputTokens);
        Assert.Equal(3, message.Usage.OutputTokens);
        var sent = fixture.Upstream.Requests.Skip(before).Single().Json;
        Assert.Equal("system", sent.GetProperty("messages")[0].GetProperty("role").GetString());
        Assert.Equal("You are terse.", sent.GetProperty("messages")[0].GetProperty("content").GetString());
    }

    [Fact]
    public async Task The_anthropic_sdk_gets_a_tool_use_block_back()
    {
        var message = await Anthropic().Messages.Create(new MessageCreateParams
        {
            Model = "gpt-4o-mini",
            MaxTokens = 100,
            Messages = [new UserMessageParam { Content = "What is the weather in Paris?" }],
            Tools =
            [
                new Tool
                {
                    Name = "get_weather",
                    Description = "Weather of a city",
                    InputSchema = new InputSchema
                    {
                        Properties = new Dictionary<string, JsonElement> { ["city"] = JsonDocument.Parse("""{"type":"string"}""").RootElement },
                        Required = ["city"],
                    },
                },
            ],
        });

        var toolUse = message.Content.Select(static b => b.TryPickToolUse(out var t) ? t : null).Single(static t => t is not null)!;
        Assert.Equal("get_weather", toolUse.Name);
        Assert.Equal("Paris", toolUse.Input["city"].GetString());
        Assert.False(string.IsNullOrEmpty(toolUse.ID));
    }

    [Fact]
    public async Task The_anthropic_sdk_streams_a_message()
    {
        var text = new System.Text.StringBuilder();
        long? outputTokens = null;
        var stopped = false;
        await foreach (var e in Anthropic().Messages.CreateStreaming(new MessageCreateParams
        {
            Model = "gpt-4o-mini",
            MaxTokens = 100,
            Messages = [new UserMessageParam { Content = "Say hello" }],
        }))
        {
            if (e.TryPickContentBlockDelta(out var delta) && delta.Delta.TryPickText(out var t)) text.Append(t.Text);
            if (e.TryPickDelta(out var messageDelta)) outputTokens = messageDelta.Usage.OutputTokens;
            if (e.TryPickStop(out _)) stopped = true;
        }

        Assert.Equal("Hello", text.ToString());
        Assert.Equal(3, outputTokens);
        Assert.True(stopped, "the stream ended without message_stop");
    }

    [Fact]
    public async Task The_anthropic_sdk_counts_tokens()
    {
        var count = await Anthropic().Messages.CountTokens(new MessageCountTokensParams
        {
            Model = "gpt-4o-mini",
            Messages = [new UserMessageParam { Content = "Hello there, how many tokens is this?" }],
        });

        Assert.InRange(count.InputTokens, 5, 40);
    }

    [Fact]
    public async Task The_anthropic_sdk_raises_an_authentication_error_for_a_wrong_key()
    {
        var ex = await Assert.ThrowsAsync<AnthropicUnauthorizedException>(() => Anthropic("sk-wrong-key").Messages.Create(new MessageCreateParams
        {
            Model = "gpt-4o-mini",
            MaxTokens = 10,
            Messages = [new UserMessageParam { Content = "hi" }],
        }));
        Assert.Contains("authentication_error", ex.Message, StringComparison.Ordinal);
    }
}
