namespace LlmMarketplace.Gateway.Tests.Validation;

/// <summary>A fake OpenAI-type upstream and the gateway in front of it, shared by the door tests.</summary>
public sealed class RequestDoorFixture : IAsyncLifetime
{
    public FakeUpstream Upstream { get; private set; } = null!;

    public GatewayHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Upstream = await FakeUpstream.StartAsync(static (ctx, _) => FakeUpstream.Json(ctx, Configs.Completion));
        Host = await GatewayHost.StartAsync(Configs.DataPlane(Upstream.BaseUrl, maxRequestBodyBytes: 8192, tinyContextWindow: 30));
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await Upstream.DisposeAsync();
    }
}

/// <summary>
/// Validation at the door of every /v1 operation, through the real host: bad text, wrong types, the wrong media type
/// or method and oversized prompts are refused with a 4xx in the API's own envelope naming the field, and nothing
/// reaches the upstream.
/// </summary>
public sealed class RequestDoorTests(RequestDoorFixture fixture) : IClassFixture<RequestDoorFixture>
{
    private readonly FakeUpstream _upstream = fixture.Upstream;
    private readonly GatewayHost _host = fixture.Host;

    /// <summary>What the upstream had received before this test: a refused request adds nothing.</summary>
    private readonly int _before = fixture.Upstream.Count;

    private async Task<HttpResponseMessage> Send(HttpMethod method, string path, byte[]? body, string? contentType = "application/json")
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            if (contentType is not null) request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }
        return await _host.Client.SendAsync(request);
    }

    private Task<HttpResponseMessage> Post(string path, string json, string? contentType = "application/json") =>
        Send(HttpMethod.Post, path, Encoding.UTF8.GetBytes(json), contentType);

    /// <summary>A body with raw bytes spliced in where <c>@@</c> stands.</summary>
    private static byte[] WithBytes(string json, params byte[] bytes)
    {
        var at = json.IndexOf("@@", StringComparison.Ordinal);
        return Encoding.UTF8.GetBytes(json[..at]).Concat(bytes).Concat(Encoding.UTF8.GetBytes(json[(at + 2)..])).ToArray();
    }

    /// <summary>OpenAI's envelope exactly; returns the error.</summary>
    internal static async Task<JsonElement> OpenAIError(HttpResponseMessage response, int status, string? param, string? code = null)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var root = JsonDocument.Parse(text).RootElement;
        Assert.Equal("error", Assert.Single(root.EnumerateObject()).Name);
        var error = root.GetProperty("error");
        Assert.Equal(["message", "type", "param", "code"], error.EnumerateObject().Select(static p => p.Name).ToArray());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        if (param is null) Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        else Assert.Equal(param, error.GetProperty("param").GetString());
        if (code is not null) Assert.Equal(code, error.GetProperty("code").GetString());
        return error;
    }

    /// <summary>Anthropic's envelope exactly; returns the error.</summary>
    internal static async Task<JsonElement> AnthropicError(HttpResponseMessage response, int status, string type)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var root = JsonDocument.Parse(text).RootElement;
        Assert.Equal(["type", "error"], root.EnumerateObject().Select(static p => p.Name).ToArray());
        Assert.Equal("error", root.GetProperty("type").GetString());
        var error = root.GetProperty("error");
        Assert.Equal(["type", "message"], error.EnumerateObject().Select(static p => p.Name).ToArray());
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        return error;
    }

    public static TheoryData<string, string, string> LoneSurrogates => new()
    {
        { "v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi \ud800"}]}""", "messages[0].content" },
        { "v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"\udc00","content":"hi"}]}""", "messages[0].role" },
        { "v1/chat/completions", """{"model":"gpt-\ud800","messages":[{"role":"user","content":"hi"}]}""", "model" },
        { "v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true,"user":"\ud800"}""", "user" },
        { "v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stop":["a","\ud800"]}""", "stop[1]" },
        { "v1/embeddings", """{"model":"text-embedding-3-small","input":["ok","\ud800"]}""", "input[1]" },
        { "v1/responses", """{"model":"gpt-4o-mini","input":[{"role":"user","content":"\udfff"}]}""", "input[0].content" },
        { "v1/responses", """{"model":"gpt-4o-mini","input":"hi","stream":true,"instructions":"\ud800"}""", "instructions" },
        { "v1/feedback", """{"requestId":"req_1","label":"good","comment":"\ud800"}""", "comment" },
    };

    [Theory]
    [MemberData(nameof(LoneSurrogates))]
    public async Task A_lone_surrogate_anywhere_is_a_400_naming_the_field_before_the_upstream(string path, string body, string param)
    {
        using var response = await Post(path, body);
        await OpenAIError(response, 400, param, "invalid_encoding");
        Assert.Equal(_before, _upstream.Count);
    }

    [Theory]
    [InlineData("v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"@@"}]}""", "messages[0].content")]
    [InlineData("v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true,"stop":"@@"}""", "stop")]
    [InlineData("v1/embeddings", """{"model":"text-embedding-3-small","input":"@@"}""", "input")]
    [InlineData("v1/responses", """{"model":"gpt-4o-mini","input":"@@","stream":true}""", "input")]
    [InlineData("v1/feedback", """{"requestId":"@@","score":1}""", "requestId")]
    public async Task Invalid_utf8_bytes_are_a_400_naming_the_field_even_for_a_stream(string path, string body, string param)
    {
        using var response = await Send(HttpMethod.Post, path, WithBytes(body, 0xC3, 0x28));
        await OpenAIError(response, 400, param, "invalid_encoding");
        Assert.Equal(_before, _upstream.Count);
    }

    [Theory]
    [InlineData("v1/messages", """{"model":"gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"\ud800"}]}""")]
    [InlineData("v1/messages", """{"model":"gpt-4o-mini","max_tokens":10,"stream":true,"system":"\udc00","messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("v1/messages/count_tokens", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":[{"type":"text","text":"\ud800"}]}]}""")]
    public async Task Invalid_text_on_messages_is_an_anthropic_invalid_request_error(string path, string body)
    {
        using var response = await Post(path, body);
        var error = await AnthropicError(response, 400, "invalid_request_error");
        Assert.Contains("UTF-8", error.GetProperty("message").GetString());
        Assert.Equal(_before, _upstream.Count);
    }

    [Theory]
    [InlineData("""{"model":"gpt-4o-mini","messages":"hi"}""", "messages", "Invalid type for 'messages'")]
    [InlineData("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}""", "temperature", "Invalid type for 'temperature'")]
    [InlineData("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":12345}]}""", "messages[0].content", "Invalid type for 'messages[0].content'")]
    [InlineData("""{"model":"gpt-4o-mini","messages":[{"role":"user"}]}""", "messages[0].content", "Missing required parameter: 'messages[0].content'")]
    [InlineData("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":null}]}""", "messages[0].content", "Missing required parameter")]
    [InlineData("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":[1]}]}""", "messages[0].content[0]", "Invalid type")]
    [InlineData("""{"model":"gpt-4o-mini","messages":[{"role":7,"content":"hi"}]}""", "messages[0].role", "Invalid type")]
    [InlineData("""{"model":"gpt-4o-mini","messages":[{"role":"tool","content":"x"}]}""", "messages[0].tool_call_id", "Missing required parameter")]
    [InlineData("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stop":5}""", "stop", "Invalid type for 'stop'")]
    [InlineData("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stop":["a",1]}""", "stop", "Invalid type for 'stop'")]
    [InlineData("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"user":42}""", "user", "Invalid type for 'user'")]
    [InlineData("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true,"user":{}}""", "user", "Invalid type for 'user'")]
    [InlineData("""{"model":"tiny-context","messages":[{"role":"user","content":"hi"}],"max_tokens":1.5}""", "max_tokens", "expected an integer")]
    [InlineData("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function"}]}""", "tools[0].function.name", "Missing required parameter")]
    [InlineData("""{"model":["gpt-4o-mini"],"messages":[{"role":"user","content":"hi"}]}""", "model", "Invalid type for 'model'")]
    public async Task Chat_names_the_param_and_the_problem(string body, string param, string message)
    {
        using var response = await Post("v1/chat/completions", body);
        var error = await OpenAIError(response, 400, param);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains(message, error.GetProperty("message").GetString());
        Assert.Equal(_before, _upstream.Count);
    }

    [Theory]
    [InlineData("""{"model":"text-embedding-3-small","input":"hi","user":1}""", "user")]
    [InlineData("""{"model":"text-embedding-3-small","input":"hi","dimensions":"many"}""", "dimensions")]
    [InlineData("""{"model":42,"input":"hi"}""", "model")]
    public async Task Embeddings_name_the_param(string body, string param)
    {
        using var response = await Post("v1/embeddings", body);
        await OpenAIError(response, 400, param, "invalid_type");
        Assert.Equal(_before, _upstream.Count);
    }

    [Theory]
    [InlineData("v1/chat/completions", "text/plain")]
    [InlineData("v1/chat/completions", null)]
    [InlineData("v1/embeddings", "application/x-www-form-urlencoded")]
    [InlineData("v1/responses", "text/plain")]
    [InlineData("v1/feedback", "text/plain")]
    public async Task A_body_that_is_not_json_is_a_415_not_an_invalid_url(string path, string? contentType)
    {
        using var response = await Post(path, """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", contentType);
        var error = await OpenAIError(response, 415, null, "unsupported_media_type");
        Assert.Contains("application/json", error.GetProperty("message").GetString());
        Assert.Equal(_before, _upstream.Count);
    }

    [Fact]
    public async Task A_body_that_is_not_json_on_messages_is_a_415_in_anthropics_envelope()
    {
        using var response = await Post("v1/messages", """{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}""", "text/plain");
        await AnthropicError(response, 415, "invalid_request_error");
    }

    [Theory]
    [InlineData("GET", "v1/chat/completions", "POST")]
    [InlineData("PUT", "v1/embeddings", "POST")]
    [InlineData("DELETE", "v1/models", "GET")]
    [InlineData("POST", "v1/responses/resp_1", "DELETE, GET")]
    [InlineData("GET", "v1/feedback", "POST")]
    public async Task A_wrong_method_is_a_405_with_allow(string method, string path, string allow)
    {
        using var response = await Send(new HttpMethod(method), path, method is "GET" or "DELETE" ? null : "{}"u8.ToArray());
        await OpenAIError(response, 405, null, "method_not_allowed");
        Assert.Equal(allow, string.Join(", ", response.Content.Headers.Allow));
    }

    [Fact]
    public async Task A_wrong_method_on_messages_is_a_405_in_anthropics_envelope()
    {
        using var response = await Send(HttpMethod.Get, "v1/messages", null);
        await AnthropicError(response, 405, "invalid_request_error");
        Assert.Equal("POST", string.Join(", ", response.Content.Headers.Allow));
    }

    [Fact]
    public async Task An_unknown_path_is_still_a_404_invalid_url()
    {
        using var response = await Send(HttpMethod.Post, "v1/chat/completion", "{}"u8.ToArray());
        await OpenAIError(response, 404, null, "unknown_url");
    }

    [Theory]
    [InlineData("v1/chat/completions", """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"BIG"}]}""", "messages")]
    [InlineData("v1/embeddings", """{"model":"text-embedding-3-small","input":"BIG"}""", "input")]
    [InlineData("v1/responses", """{"model":"gpt-4o-mini","input":"BIG"}""", "input")]
    public async Task A_body_over_the_size_limit_is_a_413_with_param_and_code_before_the_upstream(string path, string body, string param)
    {
        using var response = await Post(path, body.Replace("BIG", new string('x', 10_000)));
        await OpenAIError(response, 413, param, "request_too_large");
        Assert.Equal(_before, _upstream.Count);
    }

    [Fact]
    public async Task A_body_over_the_size_limit_on_messages_is_anthropics_request_too_large()
    {
        using var response = await Post("v1/messages", $$"""{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"{{new string('x', 10_000)}}"}]}""");
        await AnthropicError(response, 413, "request_too_large");
        Assert.Equal(_before, _upstream.Count);
    }

    [Fact]
    public async Task A_prompt_over_the_context_window_is_refused_on_every_api_before_the_upstream()
    {
        var prompt = string.Join(' ', Enumerable.Repeat("hello world", 40));
        using (var chat = await Post("v1/chat/completions", $$"""{"model":"tiny-context","stream":true,"messages":[{"role":"user","content":"{{prompt}}"}]}"""))
        {
            await OpenAIError(chat, 400, "messages", "context_length_exceeded");
        }
        using (var responses = await Post("v1/responses", $$"""{"model":"tiny-context","input":"{{prompt}}"}"""))
        {
            var error = await OpenAIError(responses, 400, "input", "context_length_exceeded");
            Assert.Contains("maximum context length is 30 tokens", error.GetProperty("message").GetString());
        }
        using (var messages = await Post("v1/messages", $$"""{"model":"tiny-context","max_tokens":5,"messages":[{"role":"user","content":"{{prompt}}"}]}"""))
        {
            var error = await AnthropicError(messages, 400, "invalid_request_error");
            Assert.Contains("maximum context length", error.GetProperty("message").GetString());
        }
        Assert.Equal(_before, _upstream.Count);
    }

    [Fact]
    public async Task Valid_requests_pass_the_door_with_their_body_intact()
    {
        using var chat = await Post("v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"héllo 😀"}],"user":"u1","stop":["\n"]}""");
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        var received = _upstream.Requests.Last().Json;
        Assert.Equal("héllo 😀", received.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal("u1", received.GetProperty("user").GetString());

        // An assistant message that only calls tools needs no content.
        using var tools = await Post("v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"42"}]}""");
        Assert.Equal(HttpStatusCode.OK, tools.StatusCode);
    }
}
