namespace LlmMarketplace.Access.Tests.Infrastructure;

/// <summary>Upstreams speaking each protocol with known usage, and calls through the real host.</summary>
public static class AccessTestKit
{
    /// <summary>Usage the OpenAI-protocol fake reports: prompt, completion, cached prompt and reasoning tokens.</summary>
    public sealed record Usage(long Prompt, long Completion, long Cached = 0, long Reasoning = 0);

    private static string I(long v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>An OpenAI-compatible upstream that answers every chat call with <paramref name="usage"/>, streamed or not.</summary>
    public static Task<FakeUpstream> OpenAIUpstreamAsync(Usage usage) => FakeUpstream.StartAsync(async (context, _) =>
    {
        var usageJson = "{\"prompt_tokens\":" + I(usage.Prompt) + ",\"completion_tokens\":" + I(usage.Completion) + ",\"total_tokens\":" + I(usage.Prompt + usage.Completion)
            + ",\"prompt_tokens_details\":{\"cached_tokens\":" + I(usage.Cached) + "},\"completion_tokens_details\":{\"reasoning_tokens\":" + I(usage.Reasoning) + "}}";
        if (FakeUpstream.WantsStream(context))
        {
            await FakeUpstream.Sse(context,
            [
                """data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4","choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"},"finish_reason":null}]}""",
                """data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""",
                """data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4","choices":[],"usage":""" + usageJson + "}",
                "data: [DONE]",
            ]);
            return;
        }
        await FakeUpstream.Json(context, """{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":""" + usageJson + "}");
    });

    /// <summary>An Anthropic Messages upstream: <paramref name="input"/> uncached input, cache reads and writes, output tokens.</summary>
    public static Task<FakeUpstream> AnthropicUpstreamAsync(long input, long cacheRead, long cacheWrite, long output) => FakeUpstream.StartAsync(async (context, _) =>
    {
        var usage = "\"input_tokens\":" + I(input) + ",\"cache_read_input_tokens\":" + I(cacheRead) + ",\"cache_creation_input_tokens\":" + I(cacheWrite);
        if (FakeUpstream.WantsStream(context))
        {
            await FakeUpstream.Sse(context,
            [
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"stop_reason\":null,\"usage\":{" + usage + ",\"output_tokens\":1}}}",
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}",
                "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}",
                "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":" + I(output) + "}}",
                "event: message_stop\ndata: {\"type\":\"message_stop\"}",
            ]);
            return;
        }
        await FakeUpstream.Json(context, "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[{\"type\":\"text\",\"text\":\"Hello\"}],\"stop_reason\":\"end_turn\",\"usage\":{" + usage + ",\"output_tokens\":" + I(output) + "}}");
    });

    public static async Task<JsonElement> CreateKeyAsync(GatewayHost host, object body, HttpClient? client = null)
    {
        using var response = await (client ?? host.Client).PostAsJsonAsync("api/v1/keys", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST /api/v1/keys answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static async Task<JsonElement> PostJsonAsync(HttpClient client, string path, object body, HttpStatusCode expected = HttpStatusCode.Created)
    {
        using var response = await client.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"POST {path} answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static async Task<JsonElement> GetJsonAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path} answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static HttpClient ClientWithKey(GatewayHost host, string key)
    {
        var client = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public static Task<HttpResponseMessage> ChatAsync(HttpClient client, string model = "gpt-4o-mini", bool stream = false, string? requestId = null, string content = "Say hello")
    {
        var body = stream
            ? $$$"""{"model":"{{{model}}}","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"{{{content}}}"}]}"""
            : $$$"""{"model":"{{{model}}}","messages":[{"role":"user","content":"{{{content}}}"}]}""";
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (requestId is not null) request.Headers.Add("x-request-id", requestId);
        return client.SendAsync(request);
    }

    public static async Task<JsonElement> ErrorAsync(HttpResponseMessage response)
    {
        var root = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        var error = root.GetProperty("error");
        Assert.Equal(["message", "type", "param", "code"], error.EnumerateObject().Select(static p => p.Name).ToArray());
        return error;
    }

    public static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values)
        : response.Content.Headers.TryGetValues(name, out var content) ? string.Join(",", content) : "";

    /// <summary>The usage records of a key, newest first.</summary>
    public static async Task<JsonElement[]> UsageOfKeyAsync(GatewayHost host, string keyId, int limit = 10_000)
    {
        var page = await GetJsonAsync(host.Client, $"api/v1/usage?keyId={keyId}&limit={limit}");
        return page.GetProperty("data").EnumerateArray().ToArray();
    }

    /// <summary>Configuration: a chat model on one upstream with given prices, and a free model.</summary>
    public static string Config(string baseUrl, string type = "openai", decimal input = 1m, decimal output = 2m, decimal cached = 0.5m, decimal perRequest = 0m, string extra = "") => $"""
        Providers:
          - Name: upstream
            Type: {type}
            BaseUrl: {baseUrl}
        Models:
          - Name: gpt-4o-mini
            Deployments:
              - Provider: upstream
                Model: gpt-4
                InputPerMTok: {input}
                OutputPerMTok: {output}
                CachedInputPerMTok: {cached}
                PerRequest: {perRequest}
          - Name: free-model
            Deployments:
              - Provider: upstream
                Model: gpt-4
        {extra}
        """;
}
