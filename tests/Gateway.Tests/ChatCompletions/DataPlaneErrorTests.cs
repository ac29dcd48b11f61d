using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Gateway.Tests.ChatCompletions;

/// <summary>Bad input on /v1 gets OpenAI's error envelope exactly, with the right status, type and code.</summary>
public sealed class DataPlaneErrorTests : UpstreamHostTests
{
    protected override Task AnswerAsync(HttpContext ctx, int _) => FakeUpstream.Json(ctx, Configs.Completion);

    protected override string HostConfig(string upstreamBaseUrl) => Configs.DataPlane(upstreamBaseUrl, maxRequestBodyBytes: 4096, tinyContextWindow: 20);

    private static async Task<JsonElement> AssertEnvelope(HttpResponseMessage response, HttpStatusCode status, string type, string? code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var root = Assert.Single(json.EnumerateObject());
        Assert.Equal("error", root.Name);
        var error = root.Value;
        Assert.Equal(["message", "type", "param", "code"], error.EnumerateObject().Select(static p => p.Name).ToArray());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal(type, error.GetProperty("type").GetString());
        if (code is null) Assert.Equal(JsonValueKind.Null, error.GetProperty("code").ValueKind);
        else Assert.Equal(code, error.GetProperty("code").GetString());
        return error;
    }

    private async Task<HttpResponseMessage> Post(string path, string body, string? key = "master")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (key is null) request.Headers.Authorization = null;
        using var client = new HttpClient { BaseAddress = Host.BaseAddress };
        if (key == "master") request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Host.MasterKey);
        else if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return await client.SendAsync(request);
    }

    [Fact]
    public async Task Malformed_json_is_a_400_invalid_request()
    {
        using var response = await Post("v1/chat/completions", "{\"model\": \"gpt-4o-mini\", \"messages\": [");
        await AssertEnvelope(response, HttpStatusCode.BadRequest, "invalid_request_error", null);
        Assert.Equal(0, Upstream.Count);
    }

    [Fact]
    public async Task A_missing_model_names_the_param()
    {
        using var response = await Post("v1/chat/completions", """{"messages":[{"role":"user","content":"hi"}]}""");
        var error = await AssertEnvelope(response, HttpStatusCode.BadRequest, "invalid_request_error", null);
        Assert.Equal("model", error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task Empty_messages_are_a_400_on_messages()
    {
        using var response = await Post("v1/chat/completions", """{"model":"gpt-4o-mini","messages":[]}""");
        var error = await AssertEnvelope(response, HttpStatusCode.BadRequest, "invalid_request_error", null);
        Assert.Equal("messages", error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task An_unknown_model_is_a_404_model_not_found()
    {
        using var response = await Post("v1/chat/completions", """{"model":"nope","messages":[{"role":"user","content":"hi"}]}""");
        await AssertEnvelope(response, HttpStatusCode.NotFound, "invalid_request_error", "model_not_found");
    }

    [Fact]
    public async Task No_key_is_a_401_authentication_error()
    {
        using var response = await Post("v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", key: null);
        await AssertEnvelope(response, HttpStatusCode.Unauthorized, "authentication_error", "invalid_api_key");
        Assert.Equal(0, Upstream.Count);
    }

    [Fact]
    public async Task A_wrong_key_is_a_401_invalid_api_key()
    {
        using var response = await Post("v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", key: "sk-not-a-key");
        await AssertEnvelope(response, HttpStatusCode.Unauthorized, "authentication_error", "invalid_api_key");
    }

    [Fact]
    public async Task An_oversized_body_is_a_413()
    {
        var big = new string('x', 8000);
        using var response = await Post("v1/chat/completions", $$"""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"{{big}}"}]}""");
        await AssertEnvelope(response, HttpStatusCode.RequestEntityTooLarge, "invalid_request_error", "request_too_large");
        Assert.Equal(0, Upstream.Count);
    }

    [Fact]
    public async Task An_unknown_v1_path_is_a_404_in_the_envelope()
    {
        using var response = await Post("v1/no/such/thing", "{}");
        await AssertEnvelope(response, HttpStatusCode.NotFound, "invalid_request_error", "unknown_url");
    }

    [Fact]
    public async Task A_chat_call_to_an_embedding_model_is_a_400()
    {
        using var response = await Post("v1/chat/completions", """{"model":"text-embedding-3-small","messages":[{"role":"user","content":"hi"}]}""");
        await AssertEnvelope(response, HttpStatusCode.BadRequest, "invalid_request_error", "model_not_supported");
    }

    [Fact]
    public async Task A_prompt_over_the_context_window_is_context_length_exceeded()
    {
        var words = string.Join(' ', Enumerable.Repeat("tokens", 40));
        using var response = await Post("v1/chat/completions", $$"""{"model":"tiny-context","messages":[{"role":"user","content":"{{words}}"}]}""");
        var error = await AssertEnvelope(response, HttpStatusCode.BadRequest, "invalid_request_error", "context_length_exceeded");
        Assert.Contains("20 tokens", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, Upstream.Count);
    }

    [Fact]
    public async Task Embeddings_without_input_are_a_400_on_input()
    {
        using var response = await Post("v1/embeddings", """{"model":"text-embedding-3-small"}""");
        var error = await AssertEnvelope(response, HttpStatusCode.BadRequest, "invalid_request_error", null);
        Assert.Equal("input", error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task A_model_that_does_not_exist_is_a_404_on_retrieve()
    {
        using var client = new HttpClient { BaseAddress = Host.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Host.MasterKey);
        using var response = await client.GetAsync("v1/models/ghost");
        await AssertEnvelope(response, HttpStatusCode.NotFound, "invalid_request_error", "model_not_found");
    }
}
