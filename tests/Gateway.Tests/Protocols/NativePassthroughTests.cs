using System.Collections.Concurrent;
using Anthropic;
using Anthropic.Core;
using Anthropic.Models.Messages;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Pipeline;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LlmMarketplace.Gateway.Tests.Protocols;

/// <summary>Records every call as the metering stage sees it (usage, cost, deployment), by request id.</summary>
public sealed class CallRecorder : IGatewayInterceptor
{
    public ConcurrentDictionary<string, (string Operation, string? Deployment, long Prompt, long Completion, long CacheRead, long CacheWrite, decimal Cost, int Status)> Calls { get; } = new();

    public GatewayStage Stage => GatewayStage.Metering;

    public ValueTask<GatewayRejection?> BeforeAsync(GatewayCall call, CancellationToken cancellationToken) => ValueTask.FromResult<GatewayRejection?>(null);

    public ValueTask AfterAsync(GatewayCall call, CancellationToken cancellationToken)
    {
        Calls[call.RequestId] = (call.Operation, call.Deployment, call.Usage.PromptTokens, call.Usage.CompletionTokens, call.Usage.CachedTokens, call.Usage.CacheWriteTokens, call.CostUsd, call.Status);
        return ValueTask.CompletedTask;
    }
}

/// <summary>A content-stage rewrite, as the shield's redaction does: the secret word in the (chat form of the) request becomes [REDACTED].</summary>
public sealed class RedactingInterceptor : IGatewayInterceptor
{
    public const string Secret = "hunter2";

    public GatewayStage Stage => GatewayStage.Content;

    public ValueTask<GatewayRejection?> BeforeAsync(GatewayCall call, CancellationToken cancellationToken)
    {
        var raw = call.Request.GetRawText();
        if (raw.Contains(Secret, StringComparison.Ordinal)) call.ReplacementBody = Encoding.UTF8.GetBytes(raw.Replace(Secret, "[REDACTED]", StringComparison.Ordinal));
        return ValueTask.FromResult<GatewayRejection?>(null);
    }

    public ValueTask AfterAsync(GatewayCall call, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>An Anthropic-type upstream that answers with thinking blocks and prompt-cache usage, a broken one, and an OpenAI-type one behind one gateway.</summary>
public sealed class NativePassthroughFixture : IAsyncLifetime
{
    public FakeUpstream Claude { get; private set; } = null!;

    public FakeUpstream Broken { get; private set; } = null!;

    public FakeUpstream OpenAI { get; private set; } = null!;

    public FakeUpstream NativeOpenAI { get; private set; } = null!;

    public GatewayHost Host { get; private set; } = null!;

    public CallRecorder Recorder { get; } = new();

    /// <summary>Released by the cut test once its client saw the first text, so the fake cuts its stream mid-way.</summary>
    public TaskCompletionSource CutNow { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task InitializeAsync()
    {
        Claude = await FakeUpstream.StartAsync((ctx, _) => NativePassthroughTests.AnthropicAsync(ctx, CutNow));
        Broken = await FakeUpstream.StartAsync(static (ctx, _) => FakeUpstream.Json(ctx, """{"type":"error","error":{"type":"api_error","message":"boom"}}""", 500));
        OpenAI = await FakeUpstream.StartAsync(OpenAIFake.AnswerAsync);
        NativeOpenAI = await FakeUpstream.StartAsync(NativePassthroughTests.ResponsesAsync);
        Host = await GatewayHost.StartAsync($"""
            Providers:
              - Name: claude
                Type: anthropic
                BaseUrl: {Claude.BaseUrl}/v1
              - Name: broken-claude
                Type: anthropic
                BaseUrl: {Broken.BaseUrl}/v1
              - Name: oai
                Type: openai
                BaseUrl: {OpenAI.BaseUrl}/v1
              - Name: oai-native
                Type: openai
                BaseUrl: {NativeOpenAI.BaseUrl}/v1
                Responses: native
            Models:
              - Name: gpt-native
                Deployments:
                  - Provider: oai-native
                    Model: gpt-5-mini
                    InputPerMTok: 0.25
                    OutputPerMTok: 2
                    CachedInputPerMTok: 0.025
              - Name: claude-sonnet
                Deployments:
                  - Provider: claude
                    Model: claude-sonnet-4-5-20250929
                    InputPerMTok: 3
                    OutputPerMTok: 15
                    CachedInputPerMTok: 0.3
                    CacheWritePerMTok: 3.75
              - Name: claude-or-gpt
                Deployments:
                  - Provider: broken-claude
                    Model: claude-haiku-4-5
                    InputPerMTok: 1
                    OutputPerMTok: 5
                  - Provider: oai
                    Model: gpt-4o
                    InputPerMTok: 2.5
                    OutputPerMTok: 10
            """, configureServices: services =>
            {
                services.AddSingleton<IGatewayInterceptor>(Recorder);
                services.AddSingleton<IGatewayInterceptor, RedactingInterceptor>();
            });
    }

    public async Task DisposeAsync()
    {
        if (Host is not null) await Host.DisposeAsync();
        if (Claude is not null) await Claude.DisposeAsync();
        if (Broken is not null) await Broken.DisposeAsync();
        if (OpenAI is not null) await OpenAI.DisposeAsync();
        if (NativeOpenAI is not null) await NativeOpenAI.DisposeAsync();
    }
}

/// <summary>
/// <c>/v1/messages</c> passed through to Anthropic-type deployments: the upstream gets the client's request untouched
/// (cache_control, thinking, anthropic-beta) but for the deployment's model, the client gets the upstream's blocks and
/// prompt-cache usage, cache reads and writes are metered at their prices, streams pass through (a cut one ends with an
/// error event), and a fallback to an OpenAI-type deployment is still answered in Messages format.
/// </summary>
public sealed class NativePassthroughTests(NativePassthroughFixture fixture) : IClassFixture<NativePassthroughFixture>
{
    private const string Cut = "CUT";

    /// <summary>The prompt the Anthropic fake refuses with a 400, as Anthropic does a request it finds invalid.</summary>
    private const string Refused = "REFUSE";

    private const string Usage = """{"input_tokens":10,"cache_creation_input_tokens":200,"cache_read_input_tokens":1000,"output_tokens":20}""";

    /// <summary>(10 × 3 + 1000 × 0.3 + 200 × 3.75 + 20 × 15) / 1,000,000 dollars.</summary>
    private const decimal ExpectedCost = 0.00138m;

    private static string Event(string type, string json) => $"event: {type}\ndata: {json}";

    internal static async Task AnthropicAsync(HttpContext ctx, TaskCompletionSource cutNow)
    {
        var request = FakeUpstream.Received(ctx);
        if (request.Body.Contains(Refused, StringComparison.Ordinal))
        {
            await FakeUpstream.Json(ctx, """{"type":"error","error":{"type":"invalid_request_error","message":"thinking.budget_tokens: must be less than max_tokens"}}""", 400);
            return;
        }
        if (!FakeUpstream.WantsStream(ctx))
        {
            await FakeUpstream.Json(ctx, $$"""{"id":"msg_up","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"thinking","thinking":"Let me think.","signature":"sig123"},{"type":"text","text":"Hello"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{{Usage}}}""");
            return;
        }
        var events = new List<string>
        {
            Event("message_start", """{"type":"message_start","message":{"id":"msg_s","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":200,"cache_read_input_tokens":1000,"output_tokens":1}}}"""),
            Event("content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"""),
            Event("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me think."}}"""),
            Event("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig123"}}"""),
            Event("content_block_stop", """{"type":"content_block_stop","index":0}"""),
            Event("content_block_start", """{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"""),
            Event("content_block_delta", """{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hel"}}"""),
        };
        if (request.Body.Contains(Cut, StringComparison.Ordinal))
        {
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = "text/event-stream";
            foreach (var e in events)
            {
                await ctx.Response.WriteAsync(e + "\n\n", ctx.RequestAborted);
                await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
            }
            await cutNow.Task.WaitAsync(TimeSpan.FromSeconds(30), ctx.RequestAborted);
            ctx.Abort();
            return;
        }
        events.Add(Event("ping", """{"type":"ping"}"""));
        events.Add(Event("content_block_delta", """{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"lo"}}"""));
        events.Add(Event("content_block_stop", """{"type":"content_block_stop","index":1}"""));
        events.Add(Event("message_delta", """{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":20}}"""));
        events.Add(Event("message_stop", """{"type":"message_stop"}"""));
        await FakeUpstream.Sse(ctx, events);
    }

    private static string Body(string model, bool stream = false, string prompt = "Say hello") => $$$"""
        {"model":"{{{model}}}","max_tokens":2048,"stream":{{{(stream ? "true" : "false")}}},
         "thinking":{"type":"enabled","budget_tokens":1024},
         "system":[{"type":"text","text":"You are terse. (a long, cached system prompt)","cache_control":{"type":"ephemeral"}}],
         "messages":[{"role":"user","content":[{"type":"text","text":"{{{prompt}}}","cache_control":{"type":"ephemeral","ttl":"1h"}}]}]}
        """;

    private HttpRequestMessage Post(string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("x-api-key", fixture.Host.MasterKey);
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Add("anthropic-beta", "extended-cache-ttl-2025-04-11");
        return request;
    }

    private (string Operation, string? Deployment, long Prompt, long Completion, long CacheRead, long CacheWrite, decimal Cost, int Status) Recorded(HttpResponseMessage response) =>
        fixture.Recorder.Calls[response.Headers.GetValues("x-request-id").Single()];

    [Fact]
    public async Task The_upstream_gets_the_clients_request_untouched_but_for_the_deployments_model()
    {
        var before = fixture.Claude.Requests.Count;
        using var response = await fixture.Host.Client.SendAsync(Post(Body("claude-sonnet")));
        Assert.Equal(200, (int)response.StatusCode);

        var sent = fixture.Claude.Requests.Skip(before).Single();
        Assert.EndsWith("/v1/messages", sent.PathAndQuery, StringComparison.Ordinal);
        var json = sent.Json;
        Assert.Equal("claude-sonnet-4-5-20250929", json.GetProperty("model").GetString());
        Assert.Equal(1024, json.GetProperty("thinking").GetProperty("budget_tokens").GetInt32());
        Assert.Equal("ephemeral", json.GetProperty("system")[0].GetProperty("cache_control").GetProperty("type").GetString());
        Assert.Equal("1h", json.GetProperty("messages")[0].GetProperty("content")[0].GetProperty("cache_control").GetProperty("ttl").GetString());
        Assert.Equal(2048, json.GetProperty("max_tokens").GetInt32());
        Assert.Equal("extended-cache-ttl-2025-04-11", sent.Headers["anthropic-beta"]);
        Assert.Equal("2023-06-01", sent.Headers["anthropic-version"]);
        Assert.NotEqual(fixture.Host.MasterKey, sent.Headers.GetValueOrDefault("x-api-key"));
    }

    [Fact]
    public async Task The_client_gets_the_upstreams_blocks_and_cache_usage_and_the_cost_counts_cache_reads_and_writes()
    {
        using var response = await fixture.Host.Client.SendAsync(Post(Body("claude-sonnet")));
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("msg_up", json.GetProperty("id").GetString());
        Assert.Equal("claude-sonnet", json.GetProperty("model").GetString());
        Assert.Equal("thinking", json.GetProperty("content")[0].GetProperty("type").GetString());
        Assert.Equal("sig123", json.GetProperty("content")[0].GetProperty("signature").GetString());
        Assert.Equal("Hello", json.GetProperty("content")[1].GetProperty("text").GetString());
        Assert.Equal(1000, json.GetProperty("usage").GetProperty("cache_read_input_tokens").GetInt32());
        Assert.Equal(200, json.GetProperty("usage").GetProperty("cache_creation_input_tokens").GetInt32());
        Assert.Equal(10, json.GetProperty("usage").GetProperty("input_tokens").GetInt32());

        var call = Recorded(response);
        Assert.Equal("messages", call.Operation);
        Assert.Equal((1210L, 20L, 1000L, 200L), (call.Prompt, call.Completion, call.CacheRead, call.CacheWrite));
        Assert.Equal(ExpectedCost, call.Cost);
        Assert.Equal(ExpectedCost, decimal.Parse(response.Headers.GetValues("x-gateway-cost").Single(), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task The_anthropic_sdk_gets_the_thinking_block_and_cache_usage()
    {
        var client = new AnthropicClient(new ClientOptions { ApiKey = fixture.Host.MasterKey, BaseUrl = fixture.Host.BaseAddress.ToString().TrimEnd('/'), MaxRetries = 0 });
        var message = await client.Messages.Create(new MessageCreateParams
        {
            Model = "claude-sonnet",
            MaxTokens = 2048,
            Thinking = new ThinkingConfigEnabled { BudgetTokens = 1024 },
            Messages = [new UserMessageParam { Content = "Say hello" }],
        });

        Assert.True(message.Content[0].TryPickThinking(out var thinking), "the first block is not a thinking block");
        Assert.Equal("Let me think.", thinking!.Thinking);
        Assert.Equal("Hello", message.Content[1].TryPickText(out var text) ? text.Text : null);
        Assert.Equal(1000, message.Usage.CacheReadInputTokens);
        Assert.Equal(200, message.Usage.CacheCreationInputTokens);
        Assert.Equal("enabled", fixture.Claude.Requests.Last().Json.GetProperty("thinking").GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_streamed_passthrough_delivers_the_upstreams_events_and_meters_their_usage()
    {
        using var response = await fixture.Host.Client.SendAsync(Post(Body("claude-sonnet", stream: true)), HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(static e => e.Split('\n')).Select(static l => (Name: l[0]["event: ".Length..], Data: JsonDocument.Parse(l[1]["data: ".Length..]).RootElement)).ToList();
        Assert.Equal(
            ["message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "content_block_start", "content_block_delta", "ping", "content_block_delta", "content_block_stop", "message_delta", "message_stop"],
            events.Select(static e => e.Name));
        Assert.Equal("claude-sonnet", events[0].Data.GetProperty("message").GetProperty("model").GetString());
        Assert.Equal(1000, events[0].Data.GetProperty("message").GetProperty("usage").GetProperty("cache_read_input_tokens").GetInt32());
        Assert.Equal("thinking_delta", events[2].Data.GetProperty("delta").GetProperty("type").GetString());
        Assert.Equal("signature_delta", events[3].Data.GetProperty("delta").GetProperty("type").GetString());

        var call = Recorded(response);
        Assert.Equal(200, call.Status);
        Assert.Equal((1210L, 20L, 1000L, 200L), (call.Prompt, call.Completion, call.CacheRead, call.CacheWrite));
        Assert.Equal(ExpectedCost, call.Cost);
    }

    [Fact]
    public async Task A_passthrough_stream_cut_mid_way_ends_with_an_error_event()
    {
        using var response = await fixture.Host.Client.SendAsync(Post(Body("claude-sonnet", stream: true, prompt: Cut)), HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var seen = new StringBuilder();
        while (await reader.ReadLineAsync() is { } line)
        {
            seen.Append(line).Append('\n');
            if (line.Contains("\"Hel\"", StringComparison.Ordinal)) fixture.CutNow.TrySetResult();
        }
        var text = seen.ToString();

        Assert.Contains("\"Hel\"", text, StringComparison.Ordinal);
        Assert.Contains("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("message_stop", text, StringComparison.Ordinal);
        Assert.Equal(502, Recorded(response).Status);
    }

    [Fact]
    public async Task A_fallback_from_a_failing_anthropic_deployment_to_an_openai_one_is_translated_and_answered_in_messages_format()
    {
        var before = fixture.OpenAI.Requests.Count;
        using var response = await fixture.Host.Client.SendAsync(Post(Body("claude-or-gpt")));
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(200, (int)response.StatusCode);
        Assert.True(fixture.Broken.Count > 0, "the anthropic deployment was not tried first");
        Assert.Equal("oai", response.Headers.GetValues("x-gateway-provider").Single());
        var sent = fixture.OpenAI.Requests.Skip(before).Single().Json;
        Assert.Equal("gpt-4o", sent.GetProperty("model").GetString());
        Assert.True(sent.TryGetProperty("messages", out _), "the OpenAI deployment did not get a chat request");
        Assert.Equal("message", json.GetProperty("type").GetString());
        Assert.Equal("claude-or-gpt", json.GetProperty("model").GetString());
        Assert.Equal("Hello", json.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal(12, json.GetProperty("usage").GetProperty("input_tokens").GetInt32());
    }

    private const string ResponsesUsage = """{"input_tokens":1000,"input_tokens_details":{"cached_tokens":800},"output_tokens":50,"output_tokens_details":{"reasoning_tokens":30},"total_tokens":1050}""";

    /// <summary>(200 × 0.25 + 800 × 0.025 + 50 × 2) / 1,000,000 dollars.</summary>
    private const decimal ExpectedResponsesCost = 0.00017m;

    private const string Output = """[{"type":"reasoning","id":"rs_1","summary":[]},{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello","annotations":[]}]}]""";

    internal static Task ResponsesAsync(HttpContext ctx, int _)
    {
        var request = FakeUpstream.Received(ctx);
        if (!request.PathAndQuery.EndsWith("/responses", StringComparison.Ordinal)) return FakeUpstream.Json(ctx, """{"error":{"message":"not here","type":"invalid_request_error"}}""", 404);
        string Response(string status, string output, string usage) =>
            $$$"""{"id":"resp_up1","object":"response","created_at":1,"status":"{{{status}}}","model":"gpt-5-mini-2025-08-07","output":{{{output}}},"usage":{{{usage}}}}""";
        if (!FakeUpstream.WantsStream(ctx)) return FakeUpstream.Json(ctx, Response("completed", Output, ResponsesUsage));
        return FakeUpstream.Sse(ctx,
        [
            Event("response.created", $$"""{"type":"response.created","sequence_number":0,"response":{{Response("in_progress", "[]", "null")}}}"""),
            Event("response.output_text.delta", """{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":1,"content_index":0,"delta":"Hel"}"""),
            Event("response.output_text.delta", """{"type":"response.output_text.delta","sequence_number":2,"item_id":"msg_1","output_index":1,"content_index":0,"delta":"lo"}"""),
            Event("response.completed", $$"""{"type":"response.completed","sequence_number":3,"response":{{Response("completed", Output, ResponsesUsage)}}}"""),
        ]);
    }

    private HttpRequestMessage PostResponses(string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fixture.Host.MasterKey);
        return request;
    }

    [Fact]
    public async Task Responses_go_as_is_to_a_native_responses_deployment_and_come_back_with_the_clients_model_metered_and_stored()
    {
        var before = fixture.NativeOpenAI.Requests.Count;
        using var response = await fixture.Host.Client.SendAsync(PostResponses("""
            {"model":"gpt-native","input":"Say hello","instructions":"Be terse.","reasoning":{"effort":"low","summary":"auto"},"include":["reasoning.encrypted_content"]}
            """));
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(200, (int)response.StatusCode);
        var sent = fixture.NativeOpenAI.Requests.Skip(before).Single();
        Assert.EndsWith("/v1/responses", sent.PathAndQuery, StringComparison.Ordinal);
        Assert.Equal("gpt-5-mini", sent.Json.GetProperty("model").GetString());
        Assert.Equal("low", sent.Json.GetProperty("reasoning").GetProperty("effort").GetString());
        Assert.Equal("Say hello", sent.Json.GetProperty("input").GetString());
        Assert.Equal("Be terse.", sent.Json.GetProperty("instructions").GetString());
        Assert.False(sent.Json.GetProperty("store").GetBoolean());

        Assert.Equal("resp_up1", json.GetProperty("id").GetString());
        Assert.Equal("gpt-native", json.GetProperty("model").GetString());
        Assert.Equal("reasoning", json.GetProperty("output")[0].GetProperty("type").GetString());
        Assert.Equal(800, json.GetProperty("usage").GetProperty("input_tokens_details").GetProperty("cached_tokens").GetInt32());
        var call = Recorded(response);
        Assert.Equal("responses", call.Operation);
        Assert.Equal((1000L, 50L, 800L), (call.Prompt, call.Completion, call.CacheRead));
        Assert.Equal(ExpectedResponsesCost, call.Cost);

        using var stored = await fixture.Host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/v1/responses/resp_up1") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", fixture.Host.MasterKey) } });
        Assert.Equal(200, (int)stored.StatusCode);
        Assert.Equal("reasoning", JsonDocument.Parse(await stored.Content.ReadAsStringAsync()).RootElement.GetProperty("output")[0].GetProperty("type").GetString());

        // The gateway keeps the conversation: a follow-up sends the stored items as input, not the upstream-unknown id.
        var next = fixture.NativeOpenAI.Requests.Count;
        using var followUp = await fixture.Host.Client.SendAsync(PostResponses("""{"model":"gpt-native","input":"Again","previous_response_id":"resp_up1"}"""));
        Assert.Equal(200, (int)followUp.StatusCode);
        var again = fixture.NativeOpenAI.Requests.Skip(next).Single().Json;
        Assert.False(again.TryGetProperty("previous_response_id", out _));
        var items = again.GetProperty("input").EnumerateArray().Select(static i => i.GetProperty("type").GetString()).ToList();
        Assert.Equal(["message", "reasoning", "message", "message"], items);
    }

    [Fact]
    public async Task A_streamed_native_response_passes_the_upstreams_events_and_meters_usage_from_response_completed()
    {
        var request = PostResponses("""{"model":"gpt-native","input":"Say hello","stream":true,"store":false}""");
        using var response = await fixture.Host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsStringAsync();

        var events = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(static e => e.Split('\n')).Select(static l => (Name: l[0]["event: ".Length..], Data: JsonDocument.Parse(l[1]["data: ".Length..]).RootElement)).ToList();
        Assert.Equal(["response.created", "response.output_text.delta", "response.output_text.delta", "response.completed"], events.Select(static e => e.Name));
        Assert.Equal("gpt-native", events[0].Data.GetProperty("response").GetProperty("model").GetString());
        Assert.Equal("gpt-native", events[3].Data.GetProperty("response").GetProperty("model").GetString());
        var call = Recorded(response);
        Assert.Equal(200, call.Status);
        Assert.Equal((1000L, 50L, 800L), (call.Prompt, call.Completion, call.CacheRead));
        Assert.Equal(ExpectedResponsesCost, call.Cost);
    }

    [Fact]
    public void Native_responses_is_an_openai_provider_setting_and_off_by_default()
    {
        var yaml = new Dictionary<string, string?>
        {
            ["Providers:0:Name"] = "plain", ["Providers:0:Type"] = "openai", ["Providers:0:BaseUrl"] = "http://127.0.0.1:1/v1",
            ["Providers:1:Name"] = "native", ["Providers:1:Type"] = "openai", ["Providers:1:BaseUrl"] = "http://127.0.0.1:1/v1", ["Providers:1:Responses"] = "native",
            ["Providers:2:Name"] = "claude", ["Providers:2:Type"] = "anthropic", ["Providers:2:BaseUrl"] = "http://127.0.0.1:1/v1", ["Providers:2:Responses"] = "native",
            ["Providers:3:Name"] = "typo", ["Providers:3:Type"] = "openai", ["Providers:3:BaseUrl"] = "http://127.0.0.1:1/v1", ["Providers:3:Responses"] = "yes",
        };
        var errors = new ValidationErrors();

        var config = GatewayConfigReader.Read(new ConfigurationBuilder().AddInMemoryCollection(yaml).Build(), errors);

        Assert.False(config.Providers.Single(static p => p.Name == "plain").NativeResponses);
        Assert.True(config.Providers.Single(static p => p.Name == "native").NativeResponses);
        var text = errors.ToString();
        Assert.Contains("Providers[2].Responses", text, StringComparison.Ordinal);
        Assert.Contains("Providers[3].Responses", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Providers[1]", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_upstream_refusal_of_a_passed_through_request_reaches_the_client_in_anthropics_envelope_without_retry()
    {
        var before = fixture.Claude.Count;
        using var response = await fixture.Host.Client.SendAsync(Post(Body("claude-sonnet", prompt: Refused)));
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(400, (int)response.StatusCode);
        Assert.Equal("error", json.GetProperty("type").GetString());
        Assert.Equal("invalid_request_error", json.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains("budget_tokens", json.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(before + 1, fixture.Claude.Count);
        Assert.Equal(400, Recorded(response).Status);
    }

    [Fact]
    public async Task A_request_a_stage_rewrote_is_translated_so_the_rewrite_is_what_the_upstream_gets()
    {
        var before = fixture.Claude.Requests.Count;
        using var response = await fixture.Host.Client.SendAsync(Post(Body("claude-sonnet", prompt: "My password is " + RedactingInterceptor.Secret)));
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(200, (int)response.StatusCode);
        var sent = fixture.Claude.Requests.Skip(before).Single();
        Assert.DoesNotContain(RedactingInterceptor.Secret, sent.Body, StringComparison.Ordinal);
        Assert.Contains("[REDACTED]", sent.Body, StringComparison.Ordinal);
        Assert.False(sent.Json.TryGetProperty("thinking", out _), "the original request was passed through instead of the rewrite");
        Assert.Equal("message", json.GetProperty("type").GetString());
        Assert.Equal("claude-sonnet", json.GetProperty("model").GetString());
    }
}
