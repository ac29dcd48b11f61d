using static LlmMarketplace.Gateway.Tests.Providers.ProviderTestKit;

namespace LlmMarketplace.Gateway.Tests.Providers;

/// <summary>The gateway in front of a fake Azure OpenAI resource.</summary>
public sealed class AzureOpenAIFixture : ProviderFixture
{
    protected override string Prefix => "AZURE";

    protected override string Config(string upstreamBaseUrl, string keyReference) => $"""
        {SharedGateway}
        Providers:
          - Name: azure
            Type: azure-openai
            BaseUrl: {upstreamBaseUrl}
            ApiKey: {keyReference}
          - Name: azure-preview
            Type: azure-openai
            BaseUrl: {upstreamBaseUrl}/openai
            ApiKey: {keyReference}
            ApiVersion: 2025-01-01-preview
        Models:
          - Name: gpt-4o
            Deployments:
              - Provider: azure
                Model: my-gpt4o-deployment
                InputPerMTok: 2.5
                OutputPerMTok: 10
          - Name: gpt-4o-preview
            Deployments:
              - Provider: azure-preview
                Model: preview-deployment
                InputPerMTok: 2.5
                OutputPerMTok: 10
          - Name: embed-small
            Kind: embedding
            Deployments:
              - Provider: azure
                Model: my-embedding-deployment
                InputPerMTok: 0.02
        """;
}

/// <summary>Azure OpenAI: OpenAI's bodies on deployment URLs with <c>api-version</c>, authenticated by <c>api-key</c>.</summary>
public sealed class AzureOpenAIAdapterTests(AzureOpenAIFixture fixture) : IClassFixture<AzureOpenAIFixture>
{
    private const string Completion = """
        {"id":"chatcmpl-azure1","object":"chat.completion","created":1700000000,"model":"gpt-4o-2024-08-06",
         "choices":[{"index":0,"message":{"role":"assistant","content":"Hi from Azure"},"finish_reason":"stop","content_filter_results":{}}],
         "usage":{"prompt_tokens":11,"completion_tokens":4,"total_tokens":15},"prompt_filter_results":[]}
        """;

    [Fact]
    public async Task Chat_goes_to_the_deployment_url_with_api_version_and_the_api_key_header()
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Json(ctx, Completion));

        using var response = await ChatAsync(fixture.Host,
            """{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}],"temperature":0.25,"max_tokens":33,"seed":7,"x_custom_field":{"kept":true}}""");

        var json = await OkJsonAsync(response);
        var request = Assert.Single(seen);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/openai/deployments/my-gpt4o-deployment/chat/completions?api-version=2024-10-21", request.PathAndQuery);
        Assert.Equal(fixture.Key.Value, request.Headers["api-key"]);
        Assert.False(request.Headers.ContainsKey("authorization"), "Azure authenticates by api-key; no Authorization header may be sent");

        // The body is the client's, field for field, with the deployment as the model.
        JsonEqual("""
            {"model":"my-gpt4o-deployment","messages":[{"role":"user","content":"hello"}],"temperature":0.25,"max_tokens":33,"seed":7,"x_custom_field":{"kept":true}}
            """, request.Json);

        Assert.Equal("Hi from Azure", json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(15, json.GetProperty("usage").GetProperty("total_tokens").GetInt64());
        Assert.Equal("azure", Header(response, "x-gateway-provider"));
    }

    [Fact]
    public async Task A_configured_api_version_is_used_and_a_base_url_ending_in_openai_is_not_doubled()
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Json(ctx, Completion));

        using var response = await ChatAsync(fixture.Host, """{"model":"gpt-4o-preview","messages":[{"role":"user","content":"hello"}]}""");

        await OkJsonAsync(response);
        var request = Assert.Single(seen);
        Assert.Equal("/openai/deployments/preview-deployment/chat/completions?api-version=2025-01-01-preview", request.PathAndQuery);
        Assert.Equal(fixture.Key.Value, request.Headers["api-key"]);
    }

    [Fact]
    public async Task A_stream_is_forwarded_from_the_deployment_url()
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Sse(ctx,
        [
            """data: {"id":"chatcmpl-az","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Str"},"finish_reason":null}]}""",
            """data: {"id":"chatcmpl-az","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"eamed"},"finish_reason":"stop"}]}""",
            """data: {"id":"chatcmpl-az","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}""",
            "data: [DONE]",
        ]));

        using var response = await ChatAsync(fixture.Host, """{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}],"stream":true}""");

        var stream = await OpenAIStream.ReadAsync(response);
        var request = Assert.Single(seen);
        Assert.Equal("/openai/deployments/my-gpt4o-deployment/chat/completions?api-version=2024-10-21", request.PathAndQuery);
        Assert.Equal(fixture.Key.Value, request.Headers["api-key"]);
        Assert.True(request.Json.GetProperty("stream").GetBoolean());
        Assert.True(stream.Done);
        Assert.Equal("Streamed", stream.Text);
        Assert.Equal(["stop"], stream.FinishReasons);
        // The client did not ask for usage: the upstream's usage chunk is not passed on.
        Assert.DoesNotContain("\"usage\"", stream.Raw, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Embeddings_go_to_the_deployment_embeddings_url()
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Json(ctx, """
            {"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.25,-0.5]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":2,"total_tokens":2}}
            """));

        using var response = await PostAsync(fixture.Host, "v1/embeddings", """{"model":"embed-small","input":"hello world"}""");

        var json = await OkJsonAsync(response);
        var request = Assert.Single(seen);
        Assert.Equal("/openai/deployments/my-embedding-deployment/embeddings?api-version=2024-10-21", request.PathAndQuery);
        Assert.Equal(fixture.Key.Value, request.Headers["api-key"]);
        Assert.False(request.Headers.ContainsKey("authorization"));
        JsonEqual("""{"model":"my-embedding-deployment","input":"hello world"}""", request.Json);
        Assert.Equal([0.25, -0.5], json.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(static v => v.GetDouble()).ToArray());
        Assert.Equal(2, json.GetProperty("usage").GetProperty("prompt_tokens").GetInt64());
    }

    [Fact]
    public async Task An_azure_error_keeps_its_openai_envelope()
    {
        fixture.Answer(static ctx => FakeUpstream.Json(ctx,
            """{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400}}""", 400));

        using var response = await ChatAsync(fixture.Host, """{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}""");

        var error = await ErrorEnvelopeAsync(response, 400);
        Assert.StartsWith("The response was filtered", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("content_filter", error.GetProperty("code").GetString());
        Assert.Equal("prompt", error.GetProperty("param").GetString());
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
    }
}
