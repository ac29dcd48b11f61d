using System.ClientModel;
using System.Diagnostics;
using OpenAI;
using OpenAI.Chat;
using static LlmMarketplace.Gateway.Tests.Providers.ProviderTestKit;

namespace LlmMarketplace.Gateway.Tests.Providers;

/// <summary>
/// The Python stand-in for Bedrock's runtime API (Standins/bedrock-upstream.py): it recomputes every request's SigV4
/// signature with botocore, an implementation independent of the gateway's (AWSSDK.Core), and answers Converse and
/// ConverseStream, the stream in event-stream framing it encodes itself.
/// </summary>
public sealed class BedrockStandIn : IAsyncDisposable
{
    private readonly Process _process;
    private readonly HttpClient _http;

    private BedrockStandIn(Process process, int port)
    {
        _process = process;
        BaseUrl = $"http://127.0.0.1:{port}";
        _http = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
    }

    public string BaseUrl { get; }

    public static async Task<BedrockStandIn> StartAsync(string accessKey, string secretKey, string region, string? sessionToken = null)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "Providers", "Standins", "bedrock-upstream.py");
        // Debian's interpreter, where the python3-botocore package installs botocore; any python3 on PATH otherwise.
        var python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { script, "--access-key", accessKey, "--secret-key", secretKey, "--region", region, "--session-token", sessionToken ?? "" })
        {
            start.ArgumentList.Add(arg);
        }
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("The Bedrock stand-in needs python3 with botocore (Debian packages python3 and python3-botocore; scripts/test.sh installs them).", ex);
        }
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (!int.TryParse(line, out var port))
        {
            var error = process.HasExited ? await process.StandardError.ReadToEndAsync() : "";
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"The Bedrock stand-in did not start (python3 with botocore is needed; Debian package python3-botocore): {line} {error}");
        }
        return new BedrockStandIn(process, port);
    }

    /// <summary>The last request that passed the signature check: its raw path, decoded model id and Converse body.</summary>
    public async Task<JsonElement> LastAsync() => JsonDocument.Parse(await _http.GetStringAsync("/_last")).RootElement;

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}

/// <summary>A Bedrock stand-in, AWS keys in environment variables, and gateways in front of it: with the right keys and with a wrong secret.</summary>
public sealed class BedrockFixture : IAsyncLifetime
{
    public const string Region = "eu-west-3";
    public const string ProfileModel = "us.anthropic.claude-3-5-sonnet-20241022-v2:0";

    private readonly List<EnvSecret> _secrets = [];

    public BedrockStandIn StandIn { get; private set; } = null!;

    public GatewayHost Host { get; private set; } = null!;

    public GatewayHost WrongSecretHost { get; private set; } = null!;

    internal EnvSecret NewSecret(string prefix)
    {
        var secret = new EnvSecret(prefix);
        _secrets.Add(secret);
        return secret;
    }

    public static string Config(string baseUrl, string keys) => $"""
        {SharedGateway}
        Providers:
          - Name: aws
            Type: bedrock
            Region: {Region}
            BaseUrl: {baseUrl}
        {keys}
        Models:
          - Name: claude-bedrock
            Deployments:
              - Provider: aws
                Model: {ProfileModel}
          - Name: bedrock-throttled
            Deployments:
              - Provider: aws
                Model: throttled.model-v1:0
          - Name: bedrock-invalid
            Deployments:
              - Provider: aws
                Model: invalid.model-v1:0
          - Name: bedrock-stream-error
            Deployments:
              - Provider: aws
                Model: stream-error.model-v1:0
        """;

    public async Task InitializeAsync()
    {
        var access = NewSecret("AWS_ACCESS");
        var secret = NewSecret("AWS_SECRET");
        var wrong = NewSecret("AWS_WRONG");
        StandIn = await BedrockStandIn.StartAsync(access.Value, secret.Value, Region);
        Host = await GatewayHost.StartAsync(Config(StandIn.BaseUrl, $"""
                AccessKeyId: {access.Reference}
                SecretAccessKey: {secret.Reference}
            """));
        WrongSecretHost = await GatewayHost.StartAsync(Config(StandIn.BaseUrl, $"""
                AccessKeyId: {access.Reference}
                SecretAccessKey: {wrong.Reference}
            """));
    }

    public async Task DisposeAsync()
    {
        if (Host is not null) await Host.DisposeAsync();
        if (WrongSecretHost is not null) await WrongSecretHost.DisposeAsync();
        if (StandIn is not null) await StandIn.DisposeAsync();
        foreach (var secret in _secrets) secret.Dispose();
    }
}

/// <summary>The official OpenAI SDK through the gateway to Bedrock's Converse API, every request's signature checked by botocore.</summary>
public sealed class BedrockAdapterTests(BedrockFixture fixture) : IClassFixture<BedrockFixture>
{
    private static readonly BinaryData WeatherSchema = BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""");

    private static ChatClient Chat(GatewayHost host, string model) =>
        new(model, new ApiKeyCredential(host.MasterKey), new OpenAIClientOptions { Endpoint = host.OpenAIBase, NetworkTimeout = TimeSpan.FromSeconds(30) });

    private static ChatCompletionOptions WithWeatherTool() => new()
    {
        Tools = { ChatTool.CreateFunctionTool("get_weather", "Weather for a city", WeatherSchema) },
        ToolChoice = ChatToolChoice.CreateRequiredChoice(),
    };

    [Fact]
    public async Task A_signed_converse_call_answers_text_and_bedrocks_token_counts()
    {
        ChatCompletion completion = await Chat(fixture.Host, "claude-bedrock").CompleteChatAsync(
            [new SystemChatMessage("Be brief."), new UserChatMessage("Say hello")],
            new ChatCompletionOptions { Temperature = 0.2f, MaxOutputTokenCount = 100 });

        Assert.Equal("Hello from Bedrock", completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        // inputTokens 11 + cache reads 3 + cache writes 2; the cached reads reported as such.
        Assert.Equal(16, completion.Usage.InputTokenCount);
        Assert.Equal(7, completion.Usage.OutputTokenCount);
        Assert.Equal(3, completion.Usage.InputTokenDetails.CachedTokenCount);

        var last = await fixture.StandIn.LastAsync();
        // The inference profile id is one path segment, its ':' escaped.
        Assert.Equal("/model/us.anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse", last.GetProperty("path").GetString());
        Assert.Equal(BedrockFixture.ProfileModel, last.GetProperty("model").GetString());
        var body = last.GetProperty("body");
        JsonEqual("""[{"text":"Be brief."}]""", body.GetProperty("system"));
        JsonEqual("""[{"role":"user","content":[{"text":"Say hello"}]}]""", body.GetProperty("messages"));
        Assert.Equal(100, body.GetProperty("inferenceConfig").GetProperty("maxTokens").GetInt32());
        Assert.Equal(0.2, body.GetProperty("inferenceConfig").GetProperty("temperature").GetDouble(), 3);
    }

    [Fact]
    public async Task A_streamed_call_reads_the_event_stream_and_reports_usage_from_its_metadata_event()
    {
        var text = new System.Text.StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        await foreach (var update in Chat(fixture.Host, "claude-bedrock").CompleteChatStreamingAsync([new UserChatMessage("Say hello")]))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            usage ??= update.Usage;
            finish ??= update.FinishReason;
        }

        Assert.Equal("Hello from Bedrock", text.ToString());
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.NotNull(usage);
        Assert.Equal(16, usage.InputTokenCount);
        Assert.Equal(7, usage.OutputTokenCount);
        var last = await fixture.StandIn.LastAsync();
        Assert.Equal("/model/us.anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse-stream", last.GetProperty("path").GetString());
    }

    [Fact]
    public async Task Tools_become_tool_specs_and_tool_use_becomes_tool_calls()
    {
        ChatCompletion completion = await Chat(fixture.Host, "claude-bedrock").CompleteChatAsync([new UserChatMessage("Weather in Paris?")], WithWeatherTool());

        Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
        var call = Assert.Single(completion.ToolCalls);
        Assert.Equal("tooluse_abc", call.Id);
        Assert.Equal("get_weather", call.FunctionName);
        JsonEqual("""{"city":"Paris"}""", call.FunctionArguments.ToString());

        var toolConfig = (await fixture.StandIn.LastAsync()).GetProperty("body").GetProperty("toolConfig");
        JsonEqual($$$"""
            {"tools":[{"toolSpec":{"name":"get_weather","description":"Weather for a city","inputSchema":{"json":{{{WeatherSchema}}} } } }],
             "toolChoice":{"any":{} } }
            """, toolConfig);
    }

    [Fact]
    public async Task Streamed_tool_use_becomes_streamed_tool_calls()
    {
        var arguments = new System.Text.StringBuilder();
        string? name = null, id = null;
        ChatFinishReason? finish = null;
        await foreach (var update in Chat(fixture.Host, "claude-bedrock").CompleteChatStreamingAsync([new UserChatMessage("Weather in Paris?")], WithWeatherTool()))
        {
            foreach (var call in update.ToolCallUpdates)
            {
                name ??= call.FunctionName;
                id ??= call.ToolCallId;
                arguments.Append(call.FunctionArgumentsUpdate?.ToString());
            }
            finish ??= update.FinishReason;
        }

        Assert.Equal("get_weather", name);
        Assert.Equal("tooluse_abc", id);
        JsonEqual("""{"city":"Paris"}""", arguments.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
    }

    [Fact]
    public async Task Tool_results_and_images_are_sent_as_tool_result_and_image_blocks()
    {
        var png = Convert.ToBase64String([0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
        using var response = await ChatAsync(fixture.Host, $$$"""
            {"model":"claude-bedrock",
             "messages":[
               {"role":"user","content":[{"type":"text","text":"What is this and the weather?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,{{{png}}}"}}]},
               {"role":"assistant","content":null,"tool_calls":[{"id":"tooluse_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
               {"role":"tool","tool_call_id":"tooluse_1","content":"{\"temp\":21}"}],
             "tools":[{"type":"function","function":{"name":"get_weather","parameters":{{{WeatherSchema}}}}}]}
            """);

        var json = await OkJsonAsync(response);
        Assert.Equal("Hello from Bedrock", json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        JsonEqual($$$"""
            [
              {"role":"user","content":[{"text":"What is this and the weather?"},{"image":{"format":"png","source":{"bytes":"{{{png}}}"} } }]},
              {"role":"assistant","content":[{"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{"city":"Paris"} } }]},
              {"role":"user","content":[{"toolResult":{"toolUseId":"tooluse_1","content":[{"json":{"temp":21} }]} }]}
            ]
            """, (await fixture.StandIn.LastAsync()).GetProperty("body").GetProperty("messages"));
    }

    [Fact]
    public async Task An_image_by_link_is_a_clear_400_not_a_500()
    {
        using var response = await ChatAsync(fixture.Host, """
            {"model":"claude-bedrock","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}
            """);

        var error = await ErrorEnvelopeAsync(response, 400);
        Assert.Equal("messages[0].content[0].image_url.url", error.GetProperty("param").GetString());
        Assert.Equal("unsupported_input", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_wrong_secret_fails_the_signature_check_and_is_answered_as_an_upstream_auth_failure()
    {
        using var response = await ChatAsync(fixture.WrongSecretHost, """{"model":"claude-bedrock","messages":[{"role":"user","content":"hi"}]}""");

        var error = await ErrorEnvelopeAsync(response, 502);
        Assert.Equal("invalid_api_key", error.GetProperty("code").GetString());
        Assert.Contains("signature", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Throttling_is_a_429_and_validation_a_400()
    {
        using var throttled = await ChatAsync(fixture.Host, """{"model":"bedrock-throttled","messages":[{"role":"user","content":"hi"}]}""");
        var error = await ErrorEnvelopeAsync(throttled, 429);
        Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());

        using var invalid = await ChatAsync(fixture.Host, """{"model":"bedrock-invalid","messages":[{"role":"user","content":"hi"}]}""");
        var invalidError = await ErrorEnvelopeAsync(invalid, 400);
        Assert.Equal("invalid_request_error", invalidError.GetProperty("type").GetString());
        Assert.Equal("The provided model identifier is invalid.", invalidError.GetProperty("message").GetString());
    }

    [Fact]
    public async Task An_exception_in_the_event_stream_is_an_error_not_a_truncated_answer()
    {
        using var response = await ChatAsync(fixture.Host, """{"model":"bedrock-stream-error","stream":true,"messages":[{"role":"user","content":"hi"}]}""");

        // Before any byte reached the client, the stream's exception is retried, then answered as an error.
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode is 429 or 502, $"expected an error status, got {(int)response.StatusCode}: {text}");
        Assert.Contains("Too many tokens", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Temporary_credentials_sign_with_their_session_token()
    {
        var access = fixture.NewSecret("AWS_STS_ACCESS");
        var secret = fixture.NewSecret("AWS_STS_SECRET");
        var token = fixture.NewSecret("AWS_STS_TOKEN");
        await using var standIn = await BedrockStandIn.StartAsync(access.Value, secret.Value, BedrockFixture.Region, token.Value);
        await using var host = await GatewayHost.StartAsync(BedrockFixture.Config(standIn.BaseUrl, $"""
                AccessKeyId: {access.Reference}
                SecretAccessKey: {secret.Reference}
                SessionToken: {token.Reference}
            """));
        await using var withoutToken = await GatewayHost.StartAsync(BedrockFixture.Config(standIn.BaseUrl, $"""
                AccessKeyId: {access.Reference}
                SecretAccessKey: {secret.Reference}
            """));

        ChatCompletion completion = await Chat(host, "claude-bedrock").CompleteChatAsync([new UserChatMessage("hi")]);
        Assert.Equal("Hello from Bedrock", completion.Content[0].Text);

        using var refused = await ChatAsync(withoutToken, """{"model":"claude-bedrock","messages":[{"role":"user","content":"hi"}]}""");
        var error = await ErrorEnvelopeAsync(refused, 502);
        Assert.Contains("session token", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}
