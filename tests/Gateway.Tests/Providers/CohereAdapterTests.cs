using System.ClientModel;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;
using static LlmMarketplace.Gateway.Tests.Providers.ProviderTestKit;

namespace LlmMarketplace.Gateway.Tests.Providers;

/// <summary>The gateway in front of a fake speaking Cohere's v2 API (chat, embed, rerank).</summary>
public sealed class CohereFixture : ProviderFixture
{
    public const decimal PerSearchUnit = 0.002m;
    public const decimal RerankPerRequest = 0.0001m;

    protected override string Prefix => "COHERE";

    protected override string Config(string upstreamBaseUrl, string keyReference) => $"""
        {SharedGateway}
        Providers:
          - Name: cohere
            Type: cohere
            BaseUrl: {upstreamBaseUrl}
            ApiKey: {keyReference}
        Models:
          - Name: command-a
            Deployments:
              - Provider: cohere
                Model: command-a-03-2025
                InputPerMTok: 2.5
                OutputPerMTok: 10
          - Name: cohere-embed
            Kind: embedding
            Deployments:
              - Provider: cohere
                Model: embed-v4.0
                InputPerMTok: 0.12
          - Name: cohere-rerank
            Kind: rerank
            Deployments:
              - Provider: cohere
                Model: rerank-v3.5
                PerSearchUnit: {PerSearchUnit.ToString(CultureInfo.InvariantCulture)}
                PerRequest: {RerankPerRequest.ToString(CultureInfo.InvariantCulture)}
        """;
}

/// <summary>
/// Cohere's v2 API through the gateway: the official OpenAI SDK's chat (plain and streamed, with tools) and embeddings
/// translated to <c>/v2/chat</c> and <c>/v2/embed</c>, and <c>/v1/rerank</c> sent to <c>/v2/rerank</c>, metered in search
/// units; the fake checks the bearer key, the path and the body of each.
/// </summary>
public sealed class CohereAdapterTests(CohereFixture fixture) : IClassFixture<CohereFixture>
{
    private OpenAIClient Sdk(string? key = null) =>
        new(new ApiKeyCredential(key ?? fixture.Host.MasterKey), new OpenAIClientOptions { Endpoint = fixture.Host.OpenAIBase, NetworkTimeout = TimeSpan.FromSeconds(30) });

    /// <summary>Answers like Cohere, but only with the provider's bearer key (else 401 in Cohere's error shape).</summary>
    private Task CohereAsync(HttpContext ctx)
    {
        var request = FakeUpstream.Received(ctx);
        if (request.Headers.GetValueOrDefault("authorization") != "Bearer " + fixture.Key.Value)
        {
            return FakeUpstream.Json(ctx, """{"message":"invalid api token"}""", 401);
        }
        var body = request.Json;
        switch (request.PathAndQuery)
        {
            case "/v2/chat" when body.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True:
                var tools = body.TryGetProperty("tools", out _);
                string[] events = tools
                    ?
                    [
                        "event: message-start\ndata: {\"id\":\"m1\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\",\"content\":[],\"tool_plan\":\"\",\"tool_calls\":[],\"citations\":[]}}}",
                        "event: tool-plan-delta\ndata: {\"type\":\"tool-plan-delta\",\"delta\":{\"message\":{\"tool_plan\":\"I will look it up.\"}}}",
                        "event: tool-call-start\ndata: {\"type\":\"tool-call-start\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"id\":\"get_weather_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}}}}",
                        "event: tool-call-delta\ndata: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"{\\\"city\\\":\"}}}}}",
                        "event: tool-call-delta\ndata: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}}}}",
                        "event: tool-call-end\ndata: {\"type\":\"tool-call-end\",\"index\":0}",
                        "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"TOOL_CALL\",\"usage\":{\"billed_units\":{\"input_tokens\":20,\"output_tokens\":9},\"tokens\":{\"input_tokens\":900,\"output_tokens\":30}}}}",
                    ]
                    :
                    [
                        "event: message-start\ndata: {\"id\":\"m2\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\",\"content\":[],\"tool_plan\":\"\",\"tool_calls\":[],\"citations\":[]}}}",
                        "event: content-start\ndata: {\"type\":\"content-start\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"type\":\"text\",\"text\":\"\"}}}}",
                        "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"text\":\"Bonjour\"}}}}",
                        "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"text\":\" Paris\"}}}}",
                        "event: content-end\ndata: {\"type\":\"content-end\",\"index\":0}",
                        "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"COMPLETE\",\"usage\":{\"billed_units\":{\"input_tokens\":11,\"output_tokens\":2},\"tokens\":{\"input_tokens\":300,\"output_tokens\":4}}}}",
                    ];
                return FakeUpstream.Sse(ctx, events);
            case "/v2/chat":
                return FakeUpstream.Json(ctx, """{"id":"c-1","finish_reason":"COMPLETE","message":{"role":"assistant","content":[{"type":"text","text":"Bonjour"}]},"usage":{"billed_units":{"input_tokens":11,"output_tokens":1},"tokens":{"input_tokens":300,"output_tokens":3}}}""");
            case "/v2/embed":
                var texts = body.GetProperty("texts").GetArrayLength();
                var vectors = string.Join(",", Enumerable.Range(0, texts).Select(static i => $"[0.{i + 1},0.5,-0.25]"));
                return FakeUpstream.Json(ctx, $$$"""{"id":"e-1","embeddings":{"float":[{{{vectors}}}]},"texts":[],"meta":{"api_version":{"version":"2"},"billed_units":{"input_tokens":{{{texts * 4}}}}},"response_type":"embeddings_by_type"}""");
            case "/v2/rerank":
                // Scores by how many letters of the query each document shares, best first, cut to top_n.
                var query = body.GetProperty("query").GetString()!;
                var docs = body.GetProperty("documents").EnumerateArray().Select(static d => d.GetString()!).ToList();
                var ranked = docs.Select((d, i) => (i, score: Math.Round(d.Count(c => query.Contains(c, StringComparison.Ordinal)) / (double)(d.Length + 1), 4)))
                    .OrderByDescending(static r => r.score).Take(body.TryGetProperty("top_n", out var n) ? n.GetInt32() : docs.Count)
                    .Select(static r => $$"""{"index":{{r.i}},"relevance_score":{{r.score.ToString(CultureInfo.InvariantCulture)}}}""");
                return FakeUpstream.Json(ctx, """{"id":"r-1","results":[""" + string.Join(",", ranked) + """],"meta":{"api_version":{"version":"2"},"billed_units":{"search_units":""" + ((docs.Count + 99) / 100) + "}}}");
            default:
                return FakeUpstream.Json(ctx, """{"message":"not found"}""", 404);
        }
    }

    [Fact]
    public async Task Chat_through_the_sdk_is_translated_to_v2_chat_and_back()
    {
        var seen = fixture.Answer(CohereAsync);
        var chat = Sdk().GetChatClient("command-a");

        ChatCompletion completion = await chat.CompleteChatAsync(
            [new SystemChatMessage("Answer in French."), new UserChatMessage("Say hello")],
            new ChatCompletionOptions { Temperature = 0.3f, MaxOutputTokenCount = 20 });

        Assert.Equal("Bonjour", completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(11, completion.Usage.InputTokenCount);
        Assert.Equal(1, completion.Usage.OutputTokenCount);
        var sent = Assert.Single(seen);
        Assert.Equal("/v2/chat", sent.PathAndQuery);
        JsonEqual("""{"model":"command-a-03-2025","messages":[{"role":"system","content":"Answer in French."},{"role":"user","content":"Say hello"}],"temperature":0.3,"max_tokens":20}""", sent.Json);
    }

    [Fact]
    public async Task A_streamed_chat_reaches_the_sdk_as_chunks_with_usage()
    {
        var seen = fixture.Answer(CohereAsync);
        var chat = Sdk().GetChatClient("command-a");

        var text = new List<string>();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Say hello to Paris")]))
        {
            text.AddRange(update.ContentUpdate.Select(static p => p.Text));
            usage ??= update.Usage;
            finish ??= update.FinishReason;
        }

        Assert.Equal("Bonjour Paris", string.Concat(text));
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.NotNull(usage);
        Assert.Equal(11, usage.InputTokenCount);
        Assert.Equal(2, usage.OutputTokenCount);
        var sent = Assert.Single(seen);
        Assert.True(sent.Json.GetProperty("stream").GetBoolean());
    }

    [Fact]
    public async Task Streamed_tool_calls_come_back_as_openai_tool_call_deltas()
    {
        var seen = fixture.Answer(CohereAsync);
        var options = new ChatCompletionOptions();
        options.Tools.Add(ChatTool.CreateFunctionTool("get_weather", "Weather of a city", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}}}""")));

        var name = "";
        var arguments = new System.Text.StringBuilder();
        string? id = null;
        ChatFinishReason? finish = null;
        await foreach (var update in Sdk().GetChatClient("command-a").CompleteChatStreamingAsync([new UserChatMessage("Weather in Paris?")], options))
        {
            foreach (var call in update.ToolCallUpdates)
            {
                id ??= call.ToolCallId;
                name += call.FunctionName;
                arguments.Append(call.FunctionArgumentsUpdate?.ToString());
            }
            finish ??= update.FinishReason;
        }

        Assert.Equal("get_weather_1", id);
        Assert.Equal("get_weather", name);
        Assert.Equal("{\"city\":\"Paris\"}", arguments.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        var tools = Assert.Single(seen).Json.GetProperty("tools");
        Assert.Equal("get_weather", tools[0].GetProperty("function").GetProperty("name").GetString());
    }

    [Fact]
    public async Task Embeddings_through_the_sdk_are_sent_to_v2_embed_as_float_documents()
    {
        var seen = fixture.Answer(CohereAsync);

        OpenAIEmbeddingCollection embeddings = await Sdk().GetEmbeddingClient("cohere-embed").GenerateEmbeddingsAsync(["first text", "second text"]);

        Assert.Equal(2, embeddings.Count);
        Assert.Equal([0.2f, 0.5f, -0.25f], embeddings[1].ToFloats().ToArray());
        Assert.Equal(8, embeddings.Usage.InputTokenCount);
        var sent = Assert.Single(seen);
        Assert.Equal("/v2/embed", sent.PathAndQuery);
        JsonEqual("""{"model":"embed-v4.0","texts":["first text","second text"],"input_type":"search_document","embedding_types":["float"]}""", sent.Json);
    }

    [Fact]
    public async Task Rerank_goes_to_v2_rerank_and_is_metered_in_search_units()
    {
        var seen = fixture.Answer(CohereAsync);
        using var created = await fixture.Host.Client.PostAsJsonAsync("api/v1/keys", new { name = "rerank-" + Guid.NewGuid().ToString("N") });
        created.EnsureSuccessStatusCode();
        using var key = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        var keyId = key.RootElement.GetProperty("id").GetString();
        using var client = new HttpClient { BaseAddress = fixture.Host.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key.RootElement.GetProperty("key").GetString());
        // 150 documents: two search units, as Cohere bills (one per query with up to 100 documents).
        var documents = new List<object> { "the cat sat", new { text = "a dog barked" }, "cats purr" };
        documents.AddRange(Enumerable.Range(0, 147).Select(static i => (object)$"filler {i}"));

        using var response = await client.PostAsJsonAsync("v1/rerank", new { model = "cohere-rerank", query = "cat", documents, top_n = 2, return_documents = true });

        var answer = await OkJsonAsync(response);
        Assert.Equal("cohere-rerank", answer.GetProperty("model").GetString());
        var results = answer.GetProperty("results");
        Assert.Equal(2, results.GetArrayLength());
        Assert.Equal(0, results[0].GetProperty("index").GetInt32());
        Assert.Equal("the cat sat", results[0].GetProperty("document").GetProperty("text").GetString());
        Assert.Equal(2, results[1].GetProperty("index").GetInt32());
        Assert.Equal("cats purr", results[1].GetProperty("document").GetProperty("text").GetString());
        Assert.True(results[0].GetProperty("relevance_score").GetDouble() >= results[1].GetProperty("relevance_score").GetDouble());
        Assert.Equal(2, answer.GetProperty("meta").GetProperty("billed_units").GetProperty("search_units").GetInt32());
        var expectedCost = (2 * CohereFixture.PerSearchUnit) + CohereFixture.RerankPerRequest;
        Assert.Equal(expectedCost, DecimalHeader(response, "x-gateway-cost"));

        var sent = Assert.Single(seen);
        Assert.Equal("/v2/rerank", sent.PathAndQuery);
        Assert.Equal("rerank-v3.5", sent.Json.GetProperty("model").GetString());
        Assert.Equal("cat", sent.Json.GetProperty("query").GetString());
        Assert.Equal(2, sent.Json.GetProperty("top_n").GetInt32());
        Assert.Equal("a dog barked", sent.Json.GetProperty("documents")[1].GetString());
        Assert.Equal(150, sent.Json.GetProperty("documents").GetArrayLength());

        var usage = JsonDocument.Parse(await fixture.Host.Client.GetStringAsync($"api/v1/usage?keyId={keyId}")).RootElement.GetProperty("data");
        var row = Assert.Single(usage.EnumerateArray());
        Assert.Equal("cohere-rerank", row.GetProperty("model").GetString());
        Assert.Equal(expectedCost, row.GetProperty("costUsd").GetDecimal());
        Assert.Equal(200, row.GetProperty("status").GetInt32());

        // Analytics sum the same cost for the key.
        await Wait.UntilAsync(async () =>
        {
            var summary = JsonDocument.Parse(await fixture.Host.Client.GetStringAsync(
                $"api/v1/analytics/summary?percentiles=false&key={keyId}&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z")).RootElement.GetProperty("data");
            return summary.GetArrayLength() == 1 && summary[0].GetProperty("costUsd").GetDecimal() == expectedCost && summary[0].GetProperty("requests").GetInt64() == 1;
        }, TimeSpan.FromSeconds(30), "the rerank call's cost in analytics");
    }

    [Fact]
    public async Task A_rerank_deployments_health_probe_sends_a_rerank_call()
    {
        var seen = fixture.Answer(CohereAsync);

        using var response = await fixture.Host.Client.PostAsync($"api/v1/gateway/deployments/cohere-rerank/{Uri.EscapeDataString("cohere/rerank-v3.5")}/probe", null);

        var probe = await OkJsonAsync(response);
        Assert.True(probe.GetProperty("healthy").GetBoolean(), probe.GetRawText());
        Assert.Equal("rerank", probe.GetProperty("kind").GetString());
        Assert.Equal("/v2/rerank", probe.GetProperty("path").GetString());
        var sent = Assert.Single(seen);
        Assert.Equal("/v2/rerank", sent.PathAndQuery);
        Assert.Equal("rerank-v3.5", sent.Json.GetProperty("model").GetString());
        Assert.Equal(1, sent.Json.GetProperty("documents").GetArrayLength());
    }

    [Fact]
    public async Task An_embedding_deployments_probe_embeds_and_a_failing_one_is_reported_unhealthy()
    {
        var seen = fixture.Answer(CohereAsync);

        using var ok = await fixture.Host.Client.PostAsync($"api/v1/gateway/deployments/cohere-embed/{Uri.EscapeDataString("cohere/embed-v4.0")}/probe", null);
        Assert.Equal("/v2/embed", (await OkJsonAsync(ok)).GetProperty("path").GetString());
        Assert.Equal("/v2/embed", Assert.Single(seen).PathAndQuery);

        fixture.Answer(static ctx => FakeUpstream.Json(ctx, """{"message":"overloaded"}""", 503));
        using var failing = await fixture.Host.Client.PostAsync($"api/v1/gateway/deployments/command-a/{Uri.EscapeDataString("cohere/command-a-03-2025")}/probe", null);
        var probe = await OkJsonAsync(failing);
        Assert.False(probe.GetProperty("healthy").GetBoolean());
        Assert.Equal(503, probe.GetProperty("status").GetInt32());
        Assert.Equal("/v2/chat", probe.GetProperty("path").GetString());

        using var unknown = await fixture.Host.Client.PostAsync("api/v1/gateway/deployments/command-a/nope/probe", null);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Rerank_refuses_bad_input_and_a_model_of_another_kind_in_openais_envelope()
    {
        fixture.Answer(CohereAsync);

        using var chatModel = await PostAsync(fixture.Host, "v1/rerank", """{"model":"command-a","query":"q","documents":["a"]}""");
        var wrongKind = await ErrorEnvelopeAsync(chatModel, 400);
        Assert.Equal("model_not_supported", wrongKind.GetProperty("code").GetString());
        Assert.Equal("model", wrongKind.GetProperty("param").GetString());

        using var noDocuments = await PostAsync(fixture.Host, "v1/rerank", """{"model":"cohere-rerank","query":"q","documents":[]}""");
        Assert.Equal("documents", (await ErrorEnvelopeAsync(noDocuments, 400)).GetProperty("param").GetString());

        using var badDocument = await PostAsync(fixture.Host, "v1/rerank", """{"model":"cohere-rerank","query":"q","documents":["a",{"title":"x"}]}""");
        Assert.Equal("documents[1]", (await ErrorEnvelopeAsync(badDocument, 400)).GetProperty("param").GetString());

        using var noQuery = await PostAsync(fixture.Host, "v1/rerank", """{"model":"cohere-rerank","documents":["a"]}""");
        Assert.Equal("query", (await ErrorEnvelopeAsync(noQuery, 400)).GetProperty("param").GetString());

        using var rerankAsChat = await ChatAsync(fixture.Host, """{"model":"cohere-rerank","messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal("model_not_supported", (await ErrorEnvelopeAsync(rerankAsChat, 400)).GetProperty("code").GetString());
    }
}
