using System.ClientModel;
using OpenAI;
using OpenAI.Chat;
using static LlmMarketplace.Gateway.Tests.Providers.ProviderTestKit;

namespace LlmMarketplace.Gateway.Tests.Providers;

/// <summary>The gateway in front of a fake speaking Anthropic's Messages API.</summary>
public sealed class AnthropicFixture : ProviderFixture
{
    protected override string Prefix => "ANTHROPIC";

    protected override string Config(string upstreamBaseUrl, string keyReference) => AnthropicAdapterTests.Config(upstreamBaseUrl, keyReference, SharedGateway);
}

/// <summary>
/// OpenAI requests translated to Anthropic's Messages API and Anthropic's answers, streams and errors translated back,
/// through the real host against a fake upstream that speaks Anthropic's wire format.
/// </summary>
public sealed class AnthropicAdapterTests(AnthropicFixture fixture) : IClassFixture<AnthropicFixture>
{
    internal static string Config(string upstreamBaseUrl, string keyReference, string gateway = "") => $"""
        {gateway}
        Providers:
          - Name: claude
            Type: anthropic
            BaseUrl: {upstreamBaseUrl}/v1
            ApiKey: {keyReference}
        Models:
          - Name: claude-sonnet
            Kind: chat
            Deployments:
              - Provider: claude
                Model: claude-sonnet-4-5
                InputPerMTok: 3
                OutputPerMTok: 15
                CachedInputPerMTok: 0.3
        """;

    private const string WeatherSchema = """{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""";

    private static string Message(string content, string stopReason = "end_turn") => $$$"""
        {"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
         "content":{{{content}}},"stop_reason":"{{{stopReason}}}","stop_sequence":null,
         "usage":{"input_tokens":100,"cache_creation_input_tokens":200,"cache_read_input_tokens":1000,"output_tokens":50}}
        """;

    private static string TextMessage(string text, string stopReason = "end_turn") =>
        Message($$$"""[{"type":"text","text":{{{JsonSerializer.Serialize(text)}}}}]""", stopReason);

    /// <summary>One Anthropic SSE event (without the blank line that ends it).</summary>
    private static string Event(string type, string json) => $"event: {type}\ndata: {json}";

    private static string MessageStart(string id = "msg_stream_1") => Event("message_start",
        $$$$"""{"type":"message_start","message":{"id":"{{{{id}}}}","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":10,"output_tokens":1}}}""");

    private static string TextBlockStart(int index) => Event("content_block_start", $$$"""{"type":"content_block_start","index":{{{index}}},"content_block":{"type":"text","text":""}}""");

    private static string TextDelta(int index, string text) =>
        Event("content_block_delta", $$$"""{"type":"content_block_delta","index":{{{index}}},"delta":{"type":"text_delta","text":{{{JsonSerializer.Serialize(text)}}}}}""");

    private static string ToolBlockStart(int index, string id, string name) =>
        Event("content_block_start", $$$$"""{"type":"content_block_start","index":{{{{index}}}},"content_block":{"type":"tool_use","id":"{{{{id}}}}","name":"{{{{name}}}}","input":{}}}""");

    private static string JsonDelta(int index, string partial) =>
        Event("content_block_delta", $$$"""{"type":"content_block_delta","index":{{{index}}},"delta":{"type":"input_json_delta","partial_json":{{{JsonSerializer.Serialize(partial)}}}}}""");

    private static string BlockStop(int index) => Event("content_block_stop", $$$"""{"type":"content_block_stop","index":{{{index}}}}""");

    private static string Ping => Event("ping", """{"type": "ping"}""");

    private static string MessageDelta(string stopReason, int outputTokens) =>
        Event("message_delta", $$$"""{"type":"message_delta","delta":{"stop_reason":"{{{stopReason}}}","stop_sequence":null},"usage":{"output_tokens":{{{outputTokens}}}}}""");

    private static string MessageStop => Event("message_stop", """{"type":"message_stop"}""");

    private ChatClient SdkChat() =>
        new("claude-sonnet", new ApiKeyCredential(fixture.Host.MasterKey), new OpenAIClientOptions { Endpoint = fixture.Host.OpenAIBase, NetworkTimeout = TimeSpan.FromSeconds(30) });

    // ---- request translation ----

    [Fact]
    public async Task A_conversation_with_tools_is_translated_to_the_messages_api()
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Json(ctx, TextMessage("Tomorrow: rain.")));

        using var response = await ChatAsync(fixture.Host, $$$"""
            {"model":"claude-sonnet",
             "messages":[
               {"role":"system","content":"You are terse."},
               {"role":"user","content":"What's the weather in Paris?"},
               {"role":"assistant","content":null,"tool_calls":[{"id":"toolu_abc","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
               {"role":"tool","tool_call_id":"toolu_abc","content":"18C and sunny"},
               {"role":"user","content":"Thanks. And tomorrow?"}],
             "max_tokens":321,
             "temperature":0.5,
             "stop":["END","STOP"],
             "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather for a city","parameters":{{{WeatherSchema}}}}}],
             "tool_choice":"required"}
            """);

        await OkJsonAsync(response);
        var request = Assert.Single(seen);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/v1/messages", request.PathAndQuery);
        Assert.Equal(fixture.Key.Value, request.Headers["x-api-key"]);
        Assert.Equal("2023-06-01", request.Headers["anthropic-version"]);
        Assert.False(request.Headers.ContainsKey("authorization"), "the client's gateway key must not reach Anthropic");
        Assert.StartsWith("application/json", request.Headers["content-type"], StringComparison.Ordinal);

        var body = request.Json;
        Assert.Equal("claude-sonnet-4-5", body.GetProperty("model").GetString());
        Assert.Equal(321, body.GetProperty("max_tokens").GetInt32());
        Assert.Equal("You are terse.", body.GetProperty("system").GetString());
        Assert.Equal(0.5, body.GetProperty("temperature").GetDouble());
        JsonEqual("""["END","STOP"]""", body.GetProperty("stop_sequences"));
        Assert.False(body.TryGetProperty("stop", out _));
        Assert.False(body.TryGetProperty("stream", out _));
        JsonEqual("""
            [
              {"role":"user","content":[{"type":"text","text":"What's the weather in Paris?"}]},
              {"role":"assistant","content":[{"type":"tool_use","id":"toolu_abc","name":"get_weather","input":{"city":"Paris"}}]},
              {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"toolu_abc","content":"18C and sunny"},
                {"type":"text","text":"Thanks. And tomorrow?"}]}
            ]
            """, body.GetProperty("messages"));
        JsonEqual($$$"""[{"name":"get_weather","description":"Weather for a city","input_schema":{{{WeatherSchema}}}}]""", body.GetProperty("tools"));
        JsonEqual("""{"type":"any"}""", body.GetProperty("tool_choice"));
    }

    [Theory]
    [InlineData("\"max_tokens\":55,", 55)]
    [InlineData("\"max_completion_tokens\":77,", 77)]
    [InlineData("\"max_tokens\":55,\"max_completion_tokens\":77,", 77)]
    public async Task Max_tokens_comes_from_max_tokens_or_max_completion_tokens(string field, int expected)
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Json(ctx, TextMessage("ok")));

        using var response = await ChatAsync(fixture.Host, $$$"""{"model":"claude-sonnet",{{{field}}}"messages":[{"role":"user","content":"hi"}]}""");

        await OkJsonAsync(response);
        Assert.Equal(expected, Assert.Single(seen).Json.GetProperty("max_tokens").GetInt32());
    }

    [Fact]
    public async Task Max_tokens_is_always_sent_because_anthropic_requires_it()
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Json(ctx, TextMessage("ok")));

        using var response = await ChatAsync(fixture.Host, """{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}],"stop":"STOP"}""");

        await OkJsonAsync(response);
        var body = Assert.Single(seen).Json;
        Assert.Equal(JsonValueKind.Number, body.GetProperty("max_tokens").ValueKind);
        Assert.True(body.GetProperty("max_tokens").GetInt32() > 0);
        Assert.False(body.TryGetProperty("system", out _));
        JsonEqual("""["STOP"]""", body.GetProperty("stop_sequences"));
        JsonEqual("""[{"role":"user","content":[{"type":"text","text":"hi"}]}]""", body.GetProperty("messages"));
    }

    [Theory]
    [InlineData("\"auto\"", """{"type":"auto"}""")]
    [InlineData("\"required\"", """{"type":"any"}""")]
    [InlineData("\"none\"", """{"type":"none"}""")]
    [InlineData("""{"type":"function","function":{"name":"get_weather"}}""", """{"type":"tool","name":"get_weather"}""")]
    public async Task Tool_choice_is_mapped(string toolChoice, string expected)
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Json(ctx, TextMessage("ok")));

        using var response = await ChatAsync(fixture.Host, $$$"""
            {"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}],
             "tools":[{"type":"function","function":{"name":"get_weather","parameters":{{{WeatherSchema}}}}}],
             "tool_choice":{{{toolChoice}}}}
            """);

        await OkJsonAsync(response);
        JsonEqual(expected, Assert.Single(seen).Json.GetProperty("tool_choice"));
    }

    [Fact]
    public async Task Parallel_tool_calls_false_disables_parallel_tool_use()
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Json(ctx, TextMessage("ok")));

        using var response = await ChatAsync(fixture.Host, $$$"""
            {"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}],
             "tools":[{"type":"function","function":{"name":"get_weather","parameters":{{{WeatherSchema}}}}}],
             "parallel_tool_calls":false}
            """);

        await OkJsonAsync(response);
        JsonEqual("""{"type":"auto","disable_parallel_tool_use":true}""", Assert.Single(seen).Json.GetProperty("tool_choice"));
    }

    // ---- non-streaming answers ----

    [Fact]
    public async Task Text_and_tool_use_blocks_become_a_chat_completion_with_tool_calls_and_usage()
    {
        fixture.Answer(static ctx => FakeUpstream.Json(ctx, Message("""
            [{"type":"text","text":"Let me check the weather."},
             {"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather","input":{"city":"Paris","unit":"celsius"}}]
            """, "tool_use")));

        using var response = await ChatAsync(fixture.Host, """{"model":"claude-sonnet","messages":[{"role":"user","content":"Weather in Paris?"}]}""");

        var json = await OkJsonAsync(response);
        Assert.Equal("chat.completion", json.GetProperty("object").GetString());
        Assert.StartsWith("chatcmpl-", json.GetProperty("id").GetString(), StringComparison.Ordinal);
        var choice = Assert.Single(json.GetProperty("choices").EnumerateArray());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        var message = choice.GetProperty("message");
        Assert.Equal("assistant", message.GetProperty("role").GetString());
        Assert.Equal("Let me check the weather.", message.GetProperty("content").GetString());
        var call = Assert.Single(message.GetProperty("tool_calls").EnumerateArray());
        Assert.Equal("toolu_01A09q90qw90lq917835lq9", call.GetProperty("id").GetString());
        Assert.Equal("function", call.GetProperty("type").GetString());
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        var arguments = call.GetProperty("function").GetProperty("arguments");
        Assert.Equal(JsonValueKind.String, arguments.ValueKind);
        JsonEqual("""{"city":"Paris","unit":"celsius"}""", arguments.GetString()!);

        // prompt_tokens counts every input token: uncached + cache reads + cache writes.
        var usage = json.GetProperty("usage");
        Assert.Equal(1300, usage.GetProperty("prompt_tokens").GetInt64());
        Assert.Equal(50, usage.GetProperty("completion_tokens").GetInt64());
        Assert.Equal(1350, usage.GetProperty("total_tokens").GetInt64());
        Assert.Equal(1000, usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt64());

        // 100 uncached × $3 + 1000 cache reads × $0.3 + 200 cache writes × $3 (input price) + 50 out × $15, per million.
        Assert.Equal(0.00195m, DecimalHeader(response, "x-gateway-cost"));
        Assert.Equal("claude", Header(response, "x-gateway-provider"));
    }

    [Theory]
    [InlineData("end_turn", "stop")]
    [InlineData("stop_sequence", "stop")]
    [InlineData("max_tokens", "length")]
    [InlineData("tool_use", "tool_calls")]
    public async Task Stop_reason_maps_to_finish_reason(string stopReason, string finishReason)
    {
        fixture.Answer(ctx => FakeUpstream.Json(ctx, TextMessage("some text", stopReason)));

        using var response = await ChatAsync(fixture.Host, """{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}]}""");

        var json = await OkJsonAsync(response);
        Assert.Equal(finishReason, json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal("some text", json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    [Fact]
    public async Task The_official_sdk_reads_a_translated_answer()
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Json(ctx, TextMessage("Bonjour from Claude.")));

        ChatCompletion completion = await SdkChat().CompleteChatAsync(
            [new SystemChatMessage("Answer in French."), new UserChatMessage("Say hello.")],
            new ChatCompletionOptions { MaxOutputTokenCount = 64 });

        Assert.Equal("Bonjour from Claude.", completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.Equal(1300, completion.Usage.InputTokenCount);
        Assert.Equal(50, completion.Usage.OutputTokenCount);
        Assert.Equal(1350, completion.Usage.TotalTokenCount);
        Assert.Equal(1000, completion.Usage.InputTokenDetails.CachedTokenCount);
        var body = Assert.Single(seen).Json;
        Assert.Equal("Answer in French.", body.GetProperty("system").GetString());
        Assert.Equal(64, body.GetProperty("max_tokens").GetInt32());
    }

    [Fact]
    public async Task The_official_sdk_reads_translated_tool_calls()
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Json(ctx, Message("""
            [{"type":"tool_use","id":"toolu_sdk","name":"get_weather","input":{"city":"Oslo"}}]
            """, "tool_use")));
        var options = new ChatCompletionOptions { ToolChoice = ChatToolChoice.CreateFunctionChoice("get_weather") };
        options.Tools.Add(ChatTool.CreateFunctionTool("get_weather", "Weather for a city", BinaryData.FromString(WeatherSchema)));

        ChatCompletion completion = await SdkChat().CompleteChatAsync([new UserChatMessage("Weather in Oslo?")], options);

        Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
        Assert.Empty(completion.Content);
        var call = Assert.Single(completion.ToolCalls);
        Assert.Equal("toolu_sdk", call.Id);
        Assert.Equal("get_weather", call.FunctionName);
        JsonEqual("""{"city":"Oslo"}""", call.FunctionArguments.ToString());
        var body = Assert.Single(seen).Json;
        JsonEqual("""{"type":"tool","name":"get_weather"}""", body.GetProperty("tool_choice"));
        JsonEqual(WeatherSchema, body.GetProperty("tools")[0].GetProperty("input_schema"));
    }

    // ---- streaming ----

    [Fact]
    public async Task A_text_stream_becomes_chunks_with_a_finish_reason_a_usage_chunk_and_done()
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Sse(ctx,
        [
            MessageStart("msg_text"), TextBlockStart(0), Ping,
            TextDelta(0, "Hel"), TextDelta(0, "lo, "), TextDelta(0, "wörld \"quoted\"\n"),
            BlockStop(0), MessageDelta("end_turn", 7), MessageStop,
        ]));

        using var response = await ChatAsync(fixture.Host,
            """{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}""");

        var stream = await OpenAIStream.ReadAsync(response);
        Assert.True(stream.Done, "the stream must end with data: [DONE]");
        Assert.EndsWith("data: [DONE]\n\n", stream.Raw, StringComparison.Ordinal);
        Assert.Null(stream.Error);
        Assert.Equal("Hello, wörld \"quoted\"\n", stream.Text);
        Assert.Equal(["stop"], stream.FinishReasons);
        Assert.Equal("assistant", stream.Deltas.First().GetProperty("role").GetString());
        Assert.All(stream.Chunks, c => Assert.Equal("chatcmpl-msg_text", c.GetProperty("id").GetString()));

        // The usage chunk comes last, with no choices.
        var last = stream.Chunks[^1];
        Assert.Equal(0, last.GetProperty("choices").GetArrayLength());
        var usage = last.GetProperty("usage");
        Assert.Equal(35, usage.GetProperty("prompt_tokens").GetInt64());
        Assert.Equal(7, usage.GetProperty("completion_tokens").GetInt64());
        Assert.Equal(42, usage.GetProperty("total_tokens").GetInt64());
        Assert.Equal(10, usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt64());
        Assert.Single(stream.Chunks, static c => c.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object);
        // The finish chunk comes before the usage chunk.
        Assert.Equal("stop", stream.Chunks[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());

        var body = Assert.Single(seen).Json;
        Assert.True(body.GetProperty("stream").GetBoolean());
        Assert.False(body.TryGetProperty("stream_options", out _));
    }

    [Fact]
    public async Task Without_include_usage_no_usage_chunk_is_sent()
    {
        fixture.Answer(static ctx => FakeUpstream.Sse(ctx,
        [
            MessageStart(), TextBlockStart(0), TextDelta(0, "Just "), TextDelta(0, "text."), BlockStop(0), MessageDelta("max_tokens", 2), MessageStop,
        ]));

        using var response = await ChatAsync(fixture.Host, """{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}],"stream":true}""");

        var stream = await OpenAIStream.ReadAsync(response);
        Assert.True(stream.Done);
        Assert.Equal("Just text.", stream.Text);
        Assert.Equal(["length"], stream.FinishReasons);
        Assert.All(stream.Chunks, static c => Assert.True(c.GetProperty("choices").GetArrayLength() > 0));
        Assert.DoesNotContain("\"usage\"", stream.Raw, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Streamed_tool_use_becomes_tool_call_chunks_with_id_and_name_then_argument_deltas()
    {
        fixture.Answer(static ctx => FakeUpstream.Sse(ctx,
        [
            MessageStart(), TextBlockStart(0), TextDelta(0, "Checking."), BlockStop(0),
            ToolBlockStart(1, "toolu_weather", "get_weather"),
            JsonDelta(1, ""), JsonDelta(1, "{\"city\":"), JsonDelta(1, " \"Paris\"}"), BlockStop(1),
            ToolBlockStart(2, "toolu_time", "get_time"),
            JsonDelta(2, "{\"tz\":\"CET\"}"), BlockStop(2),
            MessageDelta("tool_use", 40), MessageStop,
        ]));

        using var response = await ChatAsync(fixture.Host, $$$"""
            {"model":"claude-sonnet","messages":[{"role":"user","content":"weather and time in Paris"}],"stream":true,
             "tools":[{"type":"function","function":{"name":"get_weather","parameters":{{{WeatherSchema}}}}},{"type":"function","function":{"name":"get_time"}}]}
            """);

        var stream = await OpenAIStream.ReadAsync(response);
        Assert.True(stream.Done);
        Assert.Equal("Checking.", stream.Text);
        Assert.Equal(["tool_calls"], stream.FinishReasons);
        var calls = stream.Deltas
            .Where(static d => d.TryGetProperty("tool_calls", out _))
            .Select(static d => Assert.Single(d.GetProperty("tool_calls").EnumerateArray()))
            .ToList();

        // The first delta of each call names it; later ones carry only argument text for the same index.
        var first = calls.Where(static c => c.TryGetProperty("id", out _)).ToList();
        Assert.Equal(2, first.Count);
        Assert.Equal(0, first[0].GetProperty("index").GetInt32());
        Assert.Equal("toolu_weather", first[0].GetProperty("id").GetString());
        Assert.Equal("function", first[0].GetProperty("type").GetString());
        Assert.Equal("get_weather", first[0].GetProperty("function").GetProperty("name").GetString());
        Assert.Equal(1, first[1].GetProperty("index").GetInt32());
        Assert.Equal("toolu_time", first[1].GetProperty("id").GetString());
        Assert.Equal("get_time", first[1].GetProperty("function").GetProperty("name").GetString());
        Assert.True(calls.IndexOf(first[0]) < calls.IndexOf(first[1]));

        string Arguments(int index) => string.Concat(calls
            .Where(c => c.GetProperty("index").GetInt32() == index)
            .Select(static c => c.GetProperty("function").TryGetProperty("arguments", out var a) ? a.GetString() : ""));
        Assert.Equal("{\"city\": \"Paris\"}", Arguments(0));
        Assert.Equal("{\"tz\":\"CET\"}", Arguments(1));
        Assert.True(calls.Count(static c => c.GetProperty("index").GetInt32() == 0) >= 3, "the arguments must arrive as deltas, not in one piece");
    }

    [Fact]
    public async Task The_official_sdk_reads_a_translated_stream_with_tool_calls_and_usage()
    {
        fixture.Answer(static ctx => FakeUpstream.Sse(ctx,
        [
            MessageStart(), TextBlockStart(0), TextDelta(0, "On it"), TextDelta(0, "."), BlockStop(0),
            ToolBlockStart(1, "toolu_sdk_stream", "get_weather"), JsonDelta(1, "{\"ci"), JsonDelta(1, "ty\":\"Rome\"}"), BlockStop(1),
            MessageDelta("tool_use", 12), MessageStop,
        ]));
        var options = new ChatCompletionOptions();
        options.Tools.Add(ChatTool.CreateFunctionTool("get_weather", "Weather for a city", BinaryData.FromString(WeatherSchema)));

        var text = new List<string>();
        var arguments = new List<string>();
        string? id = null, name = null;
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        await foreach (var update in SdkChat().CompleteChatStreamingAsync([new UserChatMessage("Weather in Rome?")], options))
        {
            text.AddRange(update.ContentUpdate.Select(static p => p.Text));
            foreach (var call in update.ToolCallUpdates)
            {
                Assert.Equal(0, call.Index);
                id ??= call.ToolCallId;
                name ??= call.FunctionName;
                if (call.FunctionArgumentsUpdate is { } a) arguments.Add(a.ToString());
            }
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }

        Assert.Equal("On it.", string.Concat(text));
        Assert.Equal("toolu_sdk_stream", id);
        Assert.Equal("get_weather", name);
        JsonEqual("""{"city":"Rome"}""", string.Concat(arguments));
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.NotNull(usage);
        Assert.Equal(35, usage.InputTokenCount);
        Assert.Equal(12, usage.OutputTokenCount);
    }

    [Fact]
    public async Task An_error_event_after_the_first_text_ends_the_stream_with_an_error_event_and_no_done()
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Sse(ctx,
        [
            MessageStart(), TextBlockStart(0), TextDelta(0, "Partial answer"),
            Event("error", """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"""),
        ]));

        using var response = await ChatAsync(fixture.Host,
            """{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}""");

        var stream = await OpenAIStream.ReadAsync(response);
        Assert.False(stream.Done, "a failed stream must not end with [DONE]");
        Assert.DoesNotContain("[DONE]", stream.Raw, StringComparison.Ordinal);
        Assert.Equal("Partial answer", stream.Text);
        Assert.Empty(stream.FinishReasons);
        var error = Assert.NotNull(stream.Error);
        Assert.Equal(["message", "type", "param", "code"], error.EnumerateObject().Select(static p => p.Name).ToArray());
        Assert.Equal("Overloaded", error.GetProperty("message").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("type").GetString()));
        // Bytes had reached the client: no second attempt.
        Assert.Single(seen);
    }

    [Theory]
    [InlineData("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":")]
    [InlineData("content_block_delta", "{\"type\":\"content_block_delta\",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}")]
    [InlineData("content_block_start", "{\"type\":\"content_block_start\",\"index\":1}")]
    public async Task A_malformed_event_after_the_first_text_ends_the_stream_with_an_error_event_and_no_done(string type, string data)
    {
        fixture.Answer(ctx => FakeUpstream.Sse(ctx,
        [
            MessageStart(), TextBlockStart(0), TextDelta(0, "Partial"), Event(type, data), TextDelta(0, " never seen"), MessageDelta("end_turn", 3), MessageStop,
        ]));

        using var response = await ChatAsync(fixture.Host, """{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}],"stream":true}""");

        var stream = await OpenAIStream.ReadAsync(response);
        Assert.False(stream.Done, "a stream the gateway could not translate must not end with [DONE]");
        Assert.Equal("Partial", stream.Text);
        var error = Assert.NotNull(stream.Error);
        Assert.Equal(["message", "type", "param", "code"], error.EnumerateObject().Select(static p => p.Name).ToArray());
    }

    [Fact]
    public async Task A_malformed_answer_is_a_502_in_openais_envelope()
    {
        fixture.Answer(static ctx => FakeUpstream.Json(ctx, """{"id":"msg_1","type":"message","content":[{"type":"tool_use","name":"get_weather"}],"stop_reason":"tool_use"}"""));

        using var response = await ChatAsync(fixture.Host, """{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}]}""");

        var error = await ErrorEnvelopeAsync(response, 502);
        Assert.Equal("api_error", error.GetProperty("type").GetString());
    }

    // ---- errors ----

    [Fact]
    public async Task An_invalid_request_error_is_a_400_in_openais_envelope_with_anthropics_message()
    {
        const string Text = "messages.0.content: Input should be a valid list";
        var seen = fixture.Answer(static ctx => FakeUpstream.Json(ctx,
            $$$"""{"type":"error","error":{"type":"invalid_request_error","message":"{{{Text}}}"}}""", 400));

        using var response = await ChatAsync(fixture.Host, """{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}]}""");

        var error = await ErrorEnvelopeAsync(response, 400);
        Assert.Equal(Text, error.GetProperty("message").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        // The client must fix the request: it is not retried.
        Assert.Single(seen);
    }

    [Theory]
    [InlineData("""["not","an","object"]""")]
    [InlineData("\"just a string\"")]
    [InlineData("<html>Bad Request</html>")]
    public async Task An_error_body_that_is_not_anthropics_still_gets_openais_envelope(string body)
    {
        fixture.Answer(ctx => FakeUpstream.Json(ctx, body, 400));

        using var response = await ChatAsync(fixture.Host, """{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}]}""");

        var error = await ErrorEnvelopeAsync(response, 400);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task A_rate_limit_error_is_a_429_rate_limit_exceeded()
    {
        using var key = new EnvSecret("ANTHROPIC");
        await using var upstream = await FakeUpstream.StartAsync(static (ctx, _) => FakeUpstream.Json(ctx,
            """{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}""", 429));
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl, key.Reference, """
            Gateway:
              Retry:
                MaxAttemptsPerDeployment: 2
                BaseDelayMs: 1
                MaxDelayMs: 5
            """));

        using var response = await ChatAsync(host, """{"model":"claude-sonnet","messages":[{"role":"user","content":"hi"}]}""");

        var error = await ErrorEnvelopeAsync(response, 429);
        Assert.Equal("Number of request tokens has exceeded your per-minute rate limit", error.GetProperty("message").GetString());
        Assert.Equal("rate_limit_exceeded", error.GetProperty("type").GetString());
        Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
        Assert.Equal(2, upstream.Count);
    }
}
