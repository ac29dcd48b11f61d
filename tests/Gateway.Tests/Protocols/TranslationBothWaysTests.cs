using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Gateway.Tests.Protocols;

/// <summary>Kestrel fakes of an Anthropic-type and a Gemini-type upstream behind one gateway.</summary>
public sealed class TranslationFixture : IAsyncLifetime
{
    public FakeUpstream Claude { get; private set; } = null!;

    public FakeUpstream Gemini { get; private set; } = null!;

    public GatewayHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Claude = await FakeUpstream.StartAsync(TranslationBothWaysTests.AnthropicAsync);
        Gemini = await FakeUpstream.StartAsync(TranslationBothWaysTests.GeminiAsync);
        Host = await GatewayHost.StartAsync($"""
            Providers:
              - Name: claude
                Type: anthropic
                BaseUrl: {Claude.BaseUrl}/v1
              - Name: gemini
                Type: gemini
                BaseUrl: {Gemini.BaseUrl}/v1beta
            Models:
              - Name: claude-sonnet
                Deployments:
                  - Provider: claude
                    Model: claude-sonnet-4-5
                    InputPerMTok: 3
                    OutputPerMTok: 15
              - Name: gemini-flash
                Deployments:
                  - Provider: gemini
                    Model: gemini-2.0-flash
                    InputPerMTok: 0.1
                    OutputPerMTok: 0.4
            """);
    }

    public async Task DisposeAsync()
    {
        if (Host is not null) await Host.DisposeAsync();
        if (Claude is not null) await Claude.DisposeAsync();
        if (Gemini is not null) await Gemini.DisposeAsync();
    }
}

/// <summary>
/// The Responses and Messages APIs over Anthropic-type and Gemini-type upstreams: the client's request is translated
/// to the upstream's protocol and the answer back, for text, tool calls, streams and a stream cut mid-way (which
/// ends with the client protocol's error event, never a clean end).
/// </summary>
public sealed class TranslationBothWaysTests(TranslationFixture fixture) : IClassFixture<TranslationFixture>
{
    private const string WeatherTool = "get_weather";

    /// <summary>The prompt that makes the fakes cut their stream after the first text.</summary>
    private const string Cut = "CUT";

    /// <summary>Released by a test once its client saw the first text, so the fake cuts its stream mid-way (not before the gateway read it).</summary>
    private static TaskCompletionSource s_cutNow = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Writes <paramref name="events"/>, waits until the client saw them, then drops the connection.</summary>
    private static async Task CutAfterAsync(HttpContext ctx, IEnumerable<string> events)
    {
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "text/event-stream";
        foreach (var e in events)
        {
            await ctx.Response.WriteAsync(e + "\n\n", ctx.RequestAborted);
            await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
        }
        await Volatile.Read(ref s_cutNow).Task.WaitAsync(TimeSpan.FromSeconds(30), ctx.RequestAborted);
        ctx.Abort();
    }

    private static bool OffersTools(ReceivedRequest r) =>
        r.Json.TryGetProperty("tools", out var t) && t.ValueKind == JsonValueKind.Array && t.GetArrayLength() > 0;

    private static string AnthropicEvent(string type, string json) => $"event: {type}\ndata: {json}";

    internal static Task AnthropicAsync(HttpContext ctx, int _)
    {
        var request = FakeUpstream.Received(ctx);
        var tools = OffersTools(request);
        const string usage = "\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":3}";
        if (!FakeUpstream.WantsStream(ctx))
        {
            var content = tools
                ? $$$"""[{"type":"tool_use","id":"toolu_1","name":"{{{WeatherTool}}}","input":{"city":"Paris"}}]"""
                : """[{"type":"text","text":"Hello"}]""";
            return FakeUpstream.Json(ctx, $$$"""{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":{{{content}}},"stop_reason":"{{{(tools ? "tool_use" : "end_turn")}}}","stop_sequence":null,{{{usage}}}}""");
        }
        var events = new List<string>
        {
            AnthropicEvent("message_start", """{"type":"message_start","message":{"id":"msg_s","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}"""),
        };
        if (tools)
        {
            events.Add(AnthropicEvent("content_block_start", $$$$"""{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"{{{{WeatherTool}}}}","input":{}}}"""));
            events.Add(AnthropicEvent("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}"""));
            events.Add(AnthropicEvent("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}"""));
        }
        else
        {
            events.Add(AnthropicEvent("content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"""));
            events.Add(AnthropicEvent("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}"""));
            if (request.Body.Contains(Cut, StringComparison.Ordinal)) return CutAfterAsync(ctx, events);
            events.Add(AnthropicEvent("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}"""));
        }
        events.Add(AnthropicEvent("content_block_stop", """{"type":"content_block_stop","index":0}"""));
        events.Add(AnthropicEvent("message_delta", $$$"""{"type":"message_delta","delta":{"stop_reason":"{{{(tools ? "tool_use" : "end_turn")}}}","stop_sequence":null},"usage":{"output_tokens":3}}"""));
        events.Add(AnthropicEvent("message_stop", """{"type":"message_stop"}"""));
        return FakeUpstream.Sse(ctx, events);
    }

    internal static Task GeminiAsync(HttpContext ctx, int _)
    {
        var request = FakeUpstream.Received(ctx);
        var tools = OffersTools(request);
        const string usage = "\"usageMetadata\":{\"promptTokenCount\":12,\"candidatesTokenCount\":3,\"totalTokenCount\":15}";
        var toolPart = $$$$"""{"functionCall":{"name":"{{{{WeatherTool}}}}","args":{"city":"Paris"}}}""";
        if (!request.PathAndQuery.Contains(":streamGenerateContent", StringComparison.Ordinal))
        {
            var part = tools ? toolPart : """{"text":"Hello"}""";
            return FakeUpstream.Json(ctx, $$$"""{"candidates":[{"content":{"parts":[{{{part}}}],"role":"model"},"finishReason":"STOP","index":0}],{{{usage}}}}""");
        }
        if (tools)
        {
            return FakeUpstream.Sse(ctx, [$$$"""data: {"candidates":[{"content":{"parts":[{{{toolPart}}}],"role":"model"},"finishReason":"STOP","index":0}],{{{usage}}}}"""]);
        }
        var first = """data: {"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"},"index":0}]}""";
        if (request.Body.Contains(Cut, StringComparison.Ordinal)) return CutAfterAsync(ctx, [first]);
        return FakeUpstream.Sse(ctx, [first, $$$"""data: {"candidates":[{"content":{"parts":[{"text":"lo"}],"role":"model"},"finishReason":"STOP","index":0}],{{{usage}}}}"""]);
    }

    /// <summary>Streams <paramref name="body"/>, lets the fake cut its stream once <paramref name="seen"/> arrived, and returns all the client got.</summary>
    private async Task<string> StreamCutAsync(string path, string body, string seen)
    {
        Volatile.Write(ref s_cutNow, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await fixture.Host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(), Encoding.UTF8);
        var received = new StringBuilder();
        var buffer = new char[1024];
        while (!received.ToString().Contains(seen, StringComparison.Ordinal))
        {
            var read = await reader.ReadAsync(buffer);
            Assert.True(read > 0, $"the stream ended before '{seen}': {received}");
            received.Append(buffer, 0, read);
        }
        s_cutNow.SetResult();
        received.Append(await reader.ReadToEndAsync());
        return received.ToString();
    }

    private async Task<(HttpResponseMessage Response, string Text)> PostAsync(string path, string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        var response = await fixture.Host.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path} answered {(int)response.StatusCode}: {text}");
        return (response, text);
    }

    private static string ResponsesBody(string model, string prompt, bool stream, bool tools) => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["model"] = model,
        ["input"] = prompt,
        ["store"] = false,
        ["stream"] = stream,
        ["tools"] = tools ? new object[] { new { type = "function", name = WeatherTool, parameters = new { type = "object", properties = new { city = new { type = "string" } } } } } : null,
    });

    private static string MessagesBody(string model, string prompt, bool stream, bool tools) => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["model"] = model,
        ["max_tokens"] = 100,
        ["messages"] = new object[] { new { role = "user", content = prompt } },
        ["stream"] = stream,
        ["tools"] = tools ? new object[] { new { name = WeatherTool, input_schema = new { type = "object", properties = new { city = new { type = "string" } } } } } : null,
    });

    /// <summary>The (event, data) pairs of an SSE body.</summary>
    private static List<(string Event, JsonElement Data)> Events(string text) =>
        text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(static block => block.Split('\n'))
            .Where(static lines => lines.Any(static l => l.StartsWith("data: ", StringComparison.Ordinal)))
            .Select(static lines => (
                lines.FirstOrDefault(static l => l.StartsWith("event: ", StringComparison.Ordinal))?[7..] ?? "",
                JsonDocument.Parse(lines.First(static l => l.StartsWith("data: ", StringComparison.Ordinal))[6..]).RootElement.Clone()))
            .ToList();

    public static TheoryData<string> Models => ["claude-sonnet", "gemini-flash"];

    [Theory]
    [MemberData(nameof(Models))]
    public async Task Responses_text_and_function_calls_come_back_translated(string model)
    {
        var (_, text) = await PostAsync("v1/responses", ResponsesBody(model, "Say hello", stream: false, tools: false));
        var response = JsonDocument.Parse(text).RootElement;
        Assert.Equal("completed", response.GetProperty("status").GetString());
        Assert.Equal("Hello", response.GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal(12, response.GetProperty("usage").GetProperty("input_tokens").GetInt32());

        (_, text) = await PostAsync("v1/responses", ResponsesBody(model, "Weather in Paris?", stream: false, tools: true));
        var call = JsonDocument.Parse(text).RootElement.GetProperty("output").EnumerateArray().Single(static o => o.GetProperty("type").GetString() == "function_call");
        Assert.Equal(WeatherTool, call.GetProperty("name").GetString());
        Assert.Equal("Paris", JsonDocument.Parse(call.GetProperty("arguments").GetString()!).RootElement.GetProperty("city").GetString());
        Assert.False(string.IsNullOrEmpty(call.GetProperty("call_id").GetString()));
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task Messages_text_and_tool_use_come_back_translated(string model)
    {
        var (_, text) = await PostAsync("v1/messages", MessagesBody(model, "Say hello", stream: false, tools: false));
        var message = JsonDocument.Parse(text).RootElement;
        Assert.Equal("message", message.GetProperty("type").GetString());
        Assert.Equal("Hello", message.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("end_turn", message.GetProperty("stop_reason").GetString());
        Assert.Equal(3, message.GetProperty("usage").GetProperty("output_tokens").GetInt32());

        (_, text) = await PostAsync("v1/messages", MessagesBody(model, "Weather in Paris?", stream: false, tools: true));
        message = JsonDocument.Parse(text).RootElement;
        var toolUse = message.GetProperty("content").EnumerateArray().Single(static b => b.GetProperty("type").GetString() == "tool_use");
        Assert.Equal(WeatherTool, toolUse.GetProperty("name").GetString());
        Assert.Equal("Paris", toolUse.GetProperty("input").GetProperty("city").GetString());
        Assert.Equal("tool_use", message.GetProperty("stop_reason").GetString());
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task Responses_streams_carry_text_and_function_calls_to_completion(string model)
    {
        var (_, text) = await PostAsync("v1/responses", ResponsesBody(model, "Say hello", stream: true, tools: false));
        var events = Events(text);
        Assert.Equal("response.created", events[0].Event);
        Assert.Equal("Hello", string.Concat(events.Where(static e => e.Event == "response.output_text.delta").Select(static e => e.Data.GetProperty("delta").GetString())));
        Assert.Equal("response.completed", events[^1].Event);
        Assert.Equal(15, events[^1].Data.GetProperty("response").GetProperty("usage").GetProperty("total_tokens").GetInt32());

        (_, text) = await PostAsync("v1/responses", ResponsesBody(model, "Weather in Paris?", stream: true, tools: true));
        events = Events(text);
        var done = events.Single(static e => e.Event == "response.function_call_arguments.done");
        Assert.Equal("Paris", JsonDocument.Parse(done.Data.GetProperty("arguments").GetString()!).RootElement.GetProperty("city").GetString());
        Assert.Equal("response.completed", events[^1].Event);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task Messages_streams_carry_text_and_tool_use_to_message_stop(string model)
    {
        var (_, text) = await PostAsync("v1/messages", MessagesBody(model, "Say hello", stream: true, tools: false));
        var events = Events(text);
        Assert.Equal("message_start", events[0].Event);
        Assert.Equal("Hello", string.Concat(events.Where(static e => e.Event == "content_block_delta").Select(static e => e.Data.GetProperty("delta").GetProperty("text").GetString())));
        Assert.Equal("message_stop", events[^1].Event);
        Assert.Equal("end_turn", events.Single(static e => e.Event == "message_delta").Data.GetProperty("delta").GetProperty("stop_reason").GetString());

        (_, text) = await PostAsync("v1/messages", MessagesBody(model, "Weather in Paris?", stream: true, tools: true));
        events = Events(text);
        var start = events.Single(static e => e.Event == "content_block_start" && e.Data.GetProperty("content_block").GetProperty("type").GetString() == "tool_use");
        Assert.Equal(WeatherTool, start.Data.GetProperty("content_block").GetProperty("name").GetString());
        var json = string.Concat(events.Where(static e => e.Event == "content_block_delta").Select(static e => e.Data.GetProperty("delta").GetProperty("partial_json").GetString()));
        Assert.Equal("Paris", JsonDocument.Parse(json).RootElement.GetProperty("city").GetString());
        Assert.Equal("message_stop", events[^1].Event);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task A_stream_cut_mid_way_ends_with_an_error_event_never_a_clean_end(string model)
    {
        var events = Events(await StreamCutAsync("v1/responses", ResponsesBody(model, Cut, stream: true, tools: false), "response.output_text.delta"));
        Assert.Contains(events, static e => e.Event == "response.output_text.delta");
        Assert.DoesNotContain(events, static e => e.Event == "response.completed");
        Assert.Contains(events[^1].Event, (string[])["error", "response.failed"]);

        events = Events(await StreamCutAsync("v1/messages", MessagesBody(model, Cut, stream: true, tools: false), "content_block_delta"));
        Assert.Contains(events, static e => e.Event == "content_block_delta");
        Assert.DoesNotContain(events, static e => e.Event == "message_stop");
        Assert.Equal("error", events[^1].Event);
        Assert.Equal("error", events[^1].Data.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(events[^1].Data.GetProperty("error").GetProperty("message").GetString()));
    }
}
