using System.ClientModel;
using System.Collections.Concurrent;
using System.Buffers.Text;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using OpenAI;
using OpenAI.Chat;
using static LlmMarketplace.Gateway.Tests.Providers.ProviderTestKit;

namespace LlmMarketplace.Gateway.Tests.Providers;

/// <summary>
/// A stand-in Google token endpoint that accepts only JWT-bearer grants signed by the test's own service-account key,
/// a stand-in Vertex AI endpoint that accepts only the tokens it issued, and the gateway in front of both, with the key
/// given as a secret reference (one provider) and as a key file (another).
/// </summary>
public sealed class VertexFixture : IAsyncLifetime
{
    public const string Project = "llmm-test-project";
    public const string Location = "europe-west4";
    public const string ClientEmail = "gateway@llmm-test-project.iam.gserviceaccount.com";

    private readonly RSA _key = RSA.Create(2048);
    private EnvSecret? _credentials;
    private string? _keyFile;

    public FakeUpstream TokenEndpoint { get; private set; } = null!;

    public FakeUpstream Vertex { get; private set; } = null!;

    public GatewayHost Host { get; private set; } = null!;

    /// <summary>Access tokens the token endpoint issued.</summary>
    public ConcurrentBag<string> Issued { get; } = [];

    /// <summary>Why the token endpoint refused a grant, if it did.</summary>
    public ConcurrentQueue<string> Refusals { get; } = new();

    public async Task InitializeAsync()
    {
        TokenEndpoint = await FakeUpstream.StartAsync(IssueTokenAsync);
        Vertex = await FakeUpstream.StartAsync();
        var serviceAccount = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["type"] = "service_account",
            ["project_id"] = Project,
            ["private_key_id"] = "test-key-1",
            ["private_key"] = _key.ExportPkcs8PrivateKeyPem(),
            ["client_email"] = ClientEmail,
            ["client_id"] = "1234567890",
            ["token_uri"] = TokenEndpoint.BaseUrl + "/token",
        });
        _credentials = new EnvSecret("VERTEX_SA");
        Environment.SetEnvironmentVariable(_credentials.Name, serviceAccount);
        _keyFile = Path.Combine(Path.GetTempPath(), $"llmm-vertex-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(_keyFile, serviceAccount);
        Host = await GatewayHost.StartAsync($"""
            {SharedGateway}
            Providers:
              - Name: vertex
                Type: vertex
                Project: {Project}
                Location: {Location}
                Credentials: {_credentials.Reference}
                BaseUrl: {Vertex.BaseUrl}
              - Name: vertex-file
                Type: vertex
                Project: {Project}
                Location: {Location}
                CredentialsFile: {_keyFile}
                BaseUrl: {Vertex.BaseUrl}
            Models:
              - Name: gemini-vertex
                Deployments:
                  - Provider: vertex
                    Model: gemini-2.0-flash-001
              - Name: claude-vertex
                Deployments:
                  - Provider: vertex
                    Model: claude-3-5-sonnet-v2@20241022
              - Name: gemini-vertex-file
                Deployments:
                  - Provider: vertex-file
                    Model: google/gemini-2.0-flash-001
            """);
    }

    /// <summary>The OAuth 2.0 JWT-bearer grant (RFC 7523) as Google's token endpoint takes it, the signature checked with the test key.</summary>
    private async Task IssueTokenAsync(HttpContext context, int n)
    {
        var received = FakeUpstream.Received(context);
        var form = QueryHelpers.ParseQuery(received.Body);
        var problem = CheckGrant(received.PathAndQuery, form);
        if (problem is not null)
        {
            Refusals.Enqueue(problem);
            await FakeUpstream.Json(context, $$"""{"error":"invalid_grant","error_description":{{JsonSerializer.Serialize(problem)}}}""", 400);
            return;
        }
        var token = "ya29.test-" + Guid.NewGuid().ToString("N");
        Issued.Add(token);
        await FakeUpstream.Json(context, $$"""{"access_token":"{{token}}","expires_in":3600,"token_type":"Bearer"}""");
    }

    private string? CheckGrant(string path, Dictionary<string, Microsoft.Extensions.Primitives.StringValues> form)
    {
        if (path != "/token") return $"wrong token path {path}";
        if (form.GetValueOrDefault("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer") return "not a JWT-bearer grant";
        var parts = form.GetValueOrDefault("assertion").ToString().Split('.');
        if (parts.Length != 3) return "the assertion is not a JWT";
        var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0])).RootElement;
        if (header.GetProperty("alg").GetString() != "RS256") return "not RS256";
        if (!_key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url.DecodeFromChars(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
        {
            return "the assertion's signature does not verify with the service account's key";
        }
        var claims = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1])).RootElement;
        if (claims.GetProperty("iss").GetString() != ClientEmail) return "wrong issuer";
        // The audience is Google's token endpoint, whichever URL the grant is posted to.
        if (claims.GetProperty("aud").GetString() != "https://oauth2.googleapis.com/token") return "wrong audience " + claims.GetProperty("aud").GetString();
        if (!(claims.GetProperty("scope").GetString() ?? "").Split(' ').Contains("https://www.googleapis.com/auth/cloud-platform")) return "the cloud-platform scope is missing";
        if (claims.GetProperty("exp").GetInt64() <= DateTimeOffset.UtcNow.ToUnixTimeSeconds()) return "expired";
        return null;
    }

    public async Task DisposeAsync()
    {
        if (Host is not null) await Host.DisposeAsync();
        if (Vertex is not null) await Vertex.DisposeAsync();
        if (TokenEndpoint is not null) await TokenEndpoint.DisposeAsync();
        _credentials?.Dispose();
        if (_keyFile is not null) File.Delete(_keyFile);
        _key.Dispose();
    }
}

/// <summary>The official OpenAI SDK through the gateway to Gemini and Anthropic models on Vertex AI.</summary>
public sealed class VertexAdapterTests(VertexFixture fixture) : IClassFixture<VertexFixture>
{
    private const string Prefix = $"/v1/projects/{VertexFixture.Project}/locations/{VertexFixture.Location}/publishers";

    private ChatClient Chat(string model) =>
        new(model, new ApiKeyCredential(fixture.Host.MasterKey), new OpenAIClientOptions { Endpoint = fixture.Host.OpenAIBase, NetworkTimeout = TimeSpan.FromSeconds(30) });

    /// <summary>Answers only requests that carry a token the token endpoint issued; records each request's path.</summary>
    private ConcurrentQueue<ReceivedRequest> Answer(Func<HttpContext, Task> answer)
    {
        var seen = new ConcurrentQueue<ReceivedRequest>();
        fixture.Vertex.Handle(async (context, _) =>
        {
            var received = FakeUpstream.Received(context);
            seen.Enqueue(received);
            var bearer = received.Headers.GetValueOrDefault("authorization") ?? "";
            if (!bearer.StartsWith("Bearer ", StringComparison.Ordinal) || !fixture.Issued.Contains(bearer["Bearer ".Length..]))
            {
                await FakeUpstream.Json(context, """{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}""", 401);
                return;
            }
            await answer(context);
        });
        return seen;
    }

    private static Task GeminiAnswer(HttpContext context) => FakeUpstream.Json(context, """
        {"candidates":[{"content":{"role":"model","parts":[{"text":"Hello from Gemini on Vertex"}]},"finishReason":"STOP","index":0}],
         "usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":5,"totalTokenCount":14},"modelVersion":"gemini-2.0-flash-001","responseId":"v-1"}
        """);

    [Fact]
    public async Task A_gemini_model_is_called_with_a_token_from_the_service_account_on_the_vertex_url()
    {
        var seen = Answer(GeminiAnswer);

        ChatCompletion completion = await Chat("gemini-vertex").CompleteChatAsync([new SystemChatMessage("Be brief."), new UserChatMessage("hi")]);

        Assert.Empty(fixture.Refusals);
        Assert.Equal("Hello from Gemini on Vertex", completion.Content[0].Text);
        Assert.Equal(9, completion.Usage.InputTokenCount);
        Assert.Equal(5, completion.Usage.OutputTokenCount);
        var request = Assert.Single(seen);
        Assert.Equal($"{Prefix}/google/models/gemini-2.0-flash-001:generateContent", request.PathAndQuery);
        JsonEqual("""{"parts":[{"text":"Be brief."}]}""", request.Json.GetProperty("systemInstruction"));
        JsonEqual("""[{"role":"user","parts":[{"text":"hi"}]}]""", request.Json.GetProperty("contents"));
    }

    [Fact]
    public async Task A_streamed_gemini_call_uses_stream_generate_content_with_sse()
    {
        var seen = Answer(static context => RawSseAsync(context, [
            """data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hello "}]},"index":0}],"responseId":"s-1"}""" + "\r\n\r\n",
            """data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Vertex"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2,"totalTokenCount":6},"responseId":"s-1"}""" + "\r\n\r\n",
        ]));

        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        await foreach (var update in Chat("gemini-vertex").CompleteChatStreamingAsync([new UserChatMessage("hi")]))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            usage ??= update.Usage;
        }

        Assert.Equal("Hello Vertex", text.ToString());
        Assert.Equal(4, usage?.InputTokenCount);
        Assert.Equal(2, usage?.OutputTokenCount);
        Assert.Equal($"{Prefix}/google/models/gemini-2.0-flash-001:streamGenerateContent?alt=sse", Assert.Single(seen).PathAndQuery);
    }

    [Fact]
    public async Task An_anthropic_model_is_called_by_raw_predict_with_the_vertex_anthropic_version_and_no_model()
    {
        var seen = Answer(static context => FakeUpstream.Json(context, """
            {"id":"msg_vrtx_1","type":"message","role":"assistant","model":"claude-3-5-sonnet-v2-20241022",
             "content":[{"type":"text","text":"Hello from Claude on Vertex"}],"stop_reason":"end_turn","stop_sequence":null,
             "usage":{"input_tokens":12,"output_tokens":6}}
            """));

        ChatCompletion completion = await Chat("claude-vertex").CompleteChatAsync([new SystemChatMessage("Be brief."), new UserChatMessage("hi")]);

        Assert.Equal("Hello from Claude on Vertex", completion.Content[0].Text);
        Assert.Equal(12, completion.Usage.InputTokenCount);
        Assert.Equal(6, completion.Usage.OutputTokenCount);
        var request = Assert.Single(seen);
        Assert.Equal($"{Prefix}/anthropic/models/claude-3-5-sonnet-v2@20241022:rawPredict", request.PathAndQuery);
        var body = request.Json;
        Assert.Equal("vertex-2023-10-16", body.GetProperty("anthropic_version").GetString());
        Assert.False(body.TryGetProperty("model", out _));
        Assert.Equal("Be brief.", body.GetProperty("system").GetString());
        Assert.False(request.Headers.ContainsKey("x-api-key"));
    }

    [Fact]
    public async Task A_streamed_anthropic_model_uses_stream_raw_predict()
    {
        var seen = Answer(static context => FakeUpstream.Sse(context, [
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_vrtx_2\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"usage\":{\"input_tokens\":8,\"output_tokens\":1}}}",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi from \"}}",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Claude\"}}",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":3}}",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}",
        ]));

        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        await foreach (var update in Chat("claude-vertex").CompleteChatStreamingAsync([new UserChatMessage("hi")]))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            usage ??= update.Usage;
        }

        Assert.Equal("Hi from Claude", text.ToString());
        Assert.Equal(8, usage?.InputTokenCount);
        Assert.Equal(3, usage?.OutputTokenCount);
        var request = Assert.Single(seen);
        Assert.Equal($"{Prefix}/anthropic/models/claude-3-5-sonnet-v2@20241022:streamRawPredict", request.PathAndQuery);
        Assert.True(request.Json.GetProperty("stream").GetBoolean());
    }

    [Fact]
    public async Task A_key_file_works_too_and_tokens_are_reused_until_they_near_expiry()
    {
        var seen = Answer(GeminiAnswer);

        ChatCompletion first = await Chat("gemini-vertex-file").CompleteChatAsync([new UserChatMessage("hi")]);
        var issued = fixture.Issued.Count;
        await Chat("gemini-vertex-file").CompleteChatAsync([new UserChatMessage("again")]);
        await Chat("gemini-vertex-file").CompleteChatAsync([new UserChatMessage("and again")]);

        Assert.Equal("Hello from Gemini on Vertex", first.Content[0].Text);
        Assert.Equal(issued, fixture.Issued.Count);
        Assert.Equal(3, seen.Count);
        Assert.All(seen, static r => Assert.Equal($"{Prefix}/google/models/gemini-2.0-flash-001:generateContent", r.PathAndQuery));
        Assert.Single(seen.Select(static r => r.Headers["authorization"]).Distinct());
    }

    [Fact]
    public async Task A_refused_token_is_an_upstream_auth_failure_not_a_500()
    {
        // Vertex refuses every token: the gateway answers as for any upstream credential failure.
        fixture.Vertex.Handle(static (context, _) => FakeUpstream.Json(context, """{"error":{"code":403,"message":"Permission denied on resource project.","status":"PERMISSION_DENIED"}}""", 403));

        using var response = await ChatAsync(fixture.Host, """{"model":"gemini-vertex","messages":[{"role":"user","content":"hi"}]}""");

        var error = await ErrorEnvelopeAsync(response, 502);
        Assert.Equal("invalid_api_key", error.GetProperty("code").GetString());
        Assert.Contains("Permission denied", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}
