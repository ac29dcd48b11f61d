namespace LlmMarketplace.Gateway.Tests.Resilience;

/// <summary>OpenAI-format answers for fake upstreams, and the calls the resilience, routing and cache tests make.</summary>
internal static class Upstream
{
    public const string ChatBody = """{"model":"m","messages":[{"role":"user","content":"hi"}]}""";

    public const string StreamBody = """{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}""";

    /// <summary>For <c>providerExtra</c>: provider <c>a</c> is the slow one and gets a short first-byte timeout.</summary>
    public static string ShortTimeoutOnA(string provider) => provider == "a" ? "FirstByteTimeoutSeconds: 0.5" : "";

    /// <summary>A chat completion whose content names who answered, so a test can tell deployments apart.</summary>
    public static string Completion(string content) =>
        $$$"""{"id":"chatcmpl-{{{content}}}","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,"message":{"role":"assistant","content":"{{{content}}}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}""";

    /// <summary>One SSE event of a streamed chat completion (without the blank line).</summary>
    public static string Chunk(string content, string? finish = null)
    {
        var reason = finish is null ? "null" : $"\"{finish}\"";
        return $$$"""data: {"id":"chatcmpl-s","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"content":"{{{content}}}"},"finish_reason":{{{reason}}}}]}""";
    }

    /// <summary>A chunk as the gateway passes it on: the same event, naming the model the client asked for (<c>m</c>).</summary>
    public static string ClientChunk(string content, string? finish = null) =>
        Chunk(content, finish).Replace("\"model\":\"up\"", "\"model\":\"m\"", StringComparison.Ordinal);

    public static string Error(string message, string type, string? code) =>
        JsonSerializer.Serialize(new { error = new { message, type, param = (string?)null, code } });

    /// <summary>Answers with a completion naming <paramref name="content"/>.</summary>
    public static Func<Microsoft.AspNetCore.Http.HttpContext, int, Task> Answer(string content) =>
        (ctx, _) => FakeUpstream.Json(ctx, Completion(content));

    /// <summary>
    /// Answers every request differently (<c>answer-N</c>, or streamed <c>streamed-N end</c> when asked to stream), so an
    /// answer equal to an earlier one can only have come from a cache.
    /// </summary>
    public static Task Numbered(Microsoft.AspNetCore.Http.HttpContext ctx, int n) => FakeUpstream.WantsStream(ctx)
        ? FakeUpstream.Sse(ctx, [Chunk($"streamed-{n} "), Chunk("end", "stop"), "data: [DONE]"])
        : FakeUpstream.Json(ctx, Completion($"answer-{n}"));

    /// <summary>
    /// Holds each request until <paramref name="release"/> completes, then answers like <see cref="Answer"/>; a request the
    /// gateway gives up on first is left unanswered.
    /// </summary>
    public static Func<Microsoft.AspNetCore.Http.HttpContext, int, Task> AnswerWhenReleased(Task release, string content) => async (ctx, _) =>
    {
        try
        {
            await release.WaitAsync(ctx.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        await FakeUpstream.Json(ctx, Completion(content));
    };

    public static Func<Microsoft.AspNetCore.Http.HttpContext, int, Task> Fail(int status, string message = "upstream failure") =>
        (ctx, _) => FakeUpstream.Json(ctx, Error(message, status == 429 ? "rate_limit_exceeded" : "server_error", null), status);

    public static async Task<HttpResponseMessage> PostAsync(GatewayHost host, string body, Action<HttpRequestMessage>? configure = null, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        configure?.Invoke(request);
        return await host.Client.SendAsync(request, completion);
    }

    public static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : throw new Xunit.Sdk.XunitException($"The response has no '{name}' header.");

    /// <summary>The message of a completion the gateway returned.</summary>
    public static async Task<string> ContentAsync(HttpResponseMessage response)
    {
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        return json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
    }

    /// <summary>Asserts a 200 that <paramref name="deployment"/> answered after <paramref name="attempts"/> attempts, with <paramref name="content"/> when given.</summary>
    public static async Task AssertAnsweredAsync(HttpResponseMessage response, string deployment, int attempts, string? content = null)
    {
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(deployment, Header(response, "x-gateway-deployment"));
        Assert.Equal(attempts.ToString(System.Globalization.CultureInfo.InvariantCulture), Header(response, "x-gateway-attempts"));
        if (content is not null) Assert.Equal(content, await ContentAsync(response));
    }

    /// <summary>Asserts OpenAI's error envelope exactly (<c>{"error":{"message","type","param","code"}}</c>) and returns the error.</summary>
    public static async Task<JsonElement> AssertEnvelopeAsync(HttpResponseMessage response, int status, string type, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected HTTP {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var root = JsonDocument.Parse(text).RootElement;
        var property = Assert.Single(root.EnumerateObject());
        Assert.Equal("error", property.Name);
        var error = property.Value;
        Assert.Equal(["message", "type", "param", "code"], error.EnumerateObject().Select(static p => p.Name).ToArray());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
        return error;
    }

    /// <summary>The row of a deployment in <c>GET /api/v1/gateway/deployments</c>.</summary>
    public static async Task<JsonElement> DeploymentAsync(GatewayHost host, string deployment)
    {
        var json = await host.Client.GetFromJsonAsync<JsonElement>("api/v1/gateway/deployments");
        return json.GetProperty("data").EnumerateArray().Single(d => d.GetProperty("deployment").GetString() == deployment);
    }

    public static async Task<string> CircuitAsync(GatewayHost host, string deployment) =>
        (await DeploymentAsync(host, deployment)).GetProperty("circuit").GetString()!;

    /// <summary>
    /// A configuration with fast retries and one model <c>m</c> whose deployments are, in order, provider <c>name</c>
    /// at <c>baseUrl</c> serving upstream model <c>up-{name}</c> (deployment id <c>{name}/up-{name}</c>), each with
    /// <paramref name="deploymentExtra"/>(name) added to its settings. The first-byte timeout is generous so that a loaded
    /// machine never times out by accident; tests of timeouts set a short one on the slow provider with <paramref name="providerExtra"/>.
    /// </summary>
    public static string Config(IEnumerable<(string Name, string BaseUrl)> providers, string routing = "priority", string gateway = "", Func<string, string>? deploymentExtra = null, string modelExtra = "", Func<string, string>? providerExtra = null)
    {
        var list = providers.ToList();
        var sb = new StringBuilder();
        sb.Append($"""
            Gateway:
              FirstByteTimeoutSeconds: 30
              Retry:
                MaxAttemptsPerDeployment: 2
                BaseDelayMs: 1
                MaxDelayMs: 5
                MaxRetryAfterSeconds: 2
                MaxTotalAttempts: 6
            {Indent(gateway, 2)}
            Providers:

            """);
        foreach (var (name, baseUrl) in list)
        {
            sb.Append($"""
                  - Name: {name}
                    Type: openai
                    BaseUrl: {baseUrl}/v1
                {Indent(providerExtra?.Invoke(name) ?? "", 4)}

                """);
        }
        sb.Append($"""
            Models:
              - Name: m
                Routing: {routing}
            {Indent(modelExtra, 4)}
                Deployments:

            """);
        foreach (var (name, _) in list)
        {
            sb.Append($"""
                      - Provider: {name}
                        Model: up-{name}
                        InputPerMTok: 1
                        OutputPerMTok: 2
                {Indent(deploymentExtra?.Invoke(name) ?? "", 8)}

                """);
        }
        return sb.ToString();
    }

    private static string Indent(string text, int spaces)
    {
        if (string.IsNullOrWhiteSpace(text)) return "";
        var pad = new string(' ', spaces);
        return string.Join('\n', text.Split('\n').Select(l => pad + l.TrimEnd('\r')));
    }
}
