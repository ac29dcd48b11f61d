using System.Buffers.Binary;
using System.ClientModel;
using OpenAI;
using OpenAI.Embeddings;
using static LlmMarketplace.Gateway.Tests.Providers.ProviderTestKit;

namespace LlmMarketplace.Gateway.Tests.Providers;

/// <summary>The gateway in front of a fake speaking Gemini's generateContent API.</summary>
public sealed class GeminiFixture : ProviderFixture
{
    protected override string Prefix => "GEMINI";

    protected override string Config(string upstreamBaseUrl, string keyReference) => $"""
        {SharedGateway}
        Providers:
          - Name: gemini
            Type: gemini
            BaseUrl: {upstreamBaseUrl}/v1beta
            ApiKey: {keyReference}
        Models:
          - Name: gemini-flash
            Kind: chat
            Deployments:
              - Provider: gemini
                Model: gemini-2.0-flash
                InputPerMTok: 0.1
                OutputPerMTok: 0.4
          - Name: gemini-embedding
            Kind: embedding
            Deployments:
              - Provider: gemini
                Model: text-embedding-004
                InputPerMTok: 0.01
        """;
}

/// <summary>
/// OpenAI requests translated to Gemini's generateContent, streamGenerateContent and batchEmbedContents, and the
/// answers translated back, through the real host against a fake upstream that speaks Gemini's wire format.
/// </summary>
public sealed class GeminiAdapterTests(GeminiFixture fixture) : IClassFixture<GeminiFixture>
{
    private const string WeatherSchema = """{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""";

    private static string TextResponse(string text, string finishReason = "STOP") => $$$"""
        {"candidates":[{"content":{"parts":[{"text":{{{JsonSerializer.Serialize(text)}}}}],"role":"model"},"finishReason":"{{finishReason}}","index":0}],
         "usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2,"totalTokenCount":6},"modelVersion":"gemini-2.0-flash","responseId":"resp-1"}
        """;

    /// <summary>One Gemini SSE event as Google sends it: <c>data: {GenerateContentResponse}</c> and CRLF line endings.</summary>
    private static string Event(string json) => "data: " + json.ReplaceLineEndings("") + "\r\n\r\n";

    private static string StreamText(string text, string? finishReason = null, string usage = """{"promptTokenCount":9,"totalTokenCount":9}""") =>
        Event($$$"""
            {"candidates":[{"content":{"parts":[{"text":{{{JsonSerializer.Serialize(text)}}}}],"role":"model"}{{{(finishReason is null ? "" : $",\"finishReason\":\"{finishReason}\"")}}},"index":0}],
             "usageMetadata":{{{usage}}},"modelVersion":"gemini-2.0-flash","responseId":"stream-1"}
            """);

    // ---- request translation ----

    [Fact]
    public async Task A_conversation_with_tools_is_translated_to_generate_content()
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Json(ctx, TextResponse("ok")));

        using var response = await ChatAsync(fixture.Host, $$$"""
            {"model":"gemini-flash",
             "messages":[
               {"role":"system","content":"Be brief."},
               {"role":"user","content":"Weather in Rome?"},
               {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
               {"role":"tool","tool_call_id":"call_1","content":"{\"temp\":21}"},
               {"role":"assistant","content":"It is 21C."},
               {"role":"user","content":"Thanks"}],
             "temperature":0.3,
             "max_tokens":200,
             "stop":["\n\n","END"],
             "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather for a city","parameters":{{{WeatherSchema}}}}}]}
            """);

        await OkJsonAsync(response);
        var request = Assert.Single(seen);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/v1beta/models/gemini-2.0-flash:generateContent", request.PathAndQuery);
        Assert.Equal(fixture.Key.Value, request.Headers["x-goog-api-key"]);
        Assert.False(request.Headers.ContainsKey("authorization"), "the client's gateway key must not reach Gemini");

        var body = request.Json;
        Assert.False(body.TryGetProperty("model", out _));
        Assert.False(body.TryGetProperty("messages", out _));
        JsonEqual("""{"parts":[{"text":"Be brief."}]}""", body.GetProperty("systemInstruction"));
        JsonEqual("""
            [
              {"role":"user","parts":[{"text":"Weather in Rome?"}]},
              {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Rome"}}}]},
              {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"temp":21}}}]},
              {"role":"model","parts":[{"text":"It is 21C."}]},
              {"role":"user","parts":[{"text":"Thanks"}]}
            ]
            """, body.GetProperty("contents"));
        var config = body.GetProperty("generationConfig");
        Assert.Equal(0.3, config.GetProperty("temperature").GetDouble());
        Assert.Equal(200, config.GetProperty("maxOutputTokens").GetInt32());
        JsonEqual("""["\n\n","END"]""", config.GetProperty("stopSequences"));
        Assert.False(config.TryGetProperty("candidateCount", out _));
        var declaration = Assert.Single(Assert.Single(body.GetProperty("tools").EnumerateArray()).GetProperty("functionDeclarations").EnumerateArray());
        Assert.Equal("get_weather", declaration.GetProperty("name").GetString());
        Assert.Equal("Weather for a city", declaration.GetProperty("description").GetString());
        var schema = declaration.TryGetProperty("parametersJsonSchema", out var s) ? s : declaration.GetProperty("parameters");
        JsonEqual(WeatherSchema, schema);
    }

    [Fact]
    public async Task Max_completion_tokens_n_and_a_single_stop_string_map_to_generation_config()
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Json(ctx, TextResponse("ok")));

        using var response = await ChatAsync(fixture.Host,
            """{"model":"gemini-flash","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":64,"n":2,"stop":"STOP"}""");

        await OkJsonAsync(response);
        var body = Assert.Single(seen).Json;
        var config = body.GetProperty("generationConfig");
        Assert.Equal(64, config.GetProperty("maxOutputTokens").GetInt32());
        Assert.Equal(2, config.GetProperty("candidateCount").GetInt32());
        JsonEqual("""["STOP"]""", config.GetProperty("stopSequences"));
        Assert.False(body.TryGetProperty("systemInstruction", out _));
        Assert.False(body.TryGetProperty("tools", out _));
    }

    // ---- non-streaming answers ----

    [Fact]
    public async Task Candidates_become_choices_with_mapped_finish_reasons_and_usage()
    {
        fixture.Answer(static ctx => FakeUpstream.Json(ctx, """
            {"candidates":[
               {"content":{"parts":[{"text":"Hello "},{"text":"there"}],"role":"model"},"finishReason":"STOP","index":0},
               {"content":{"parts":[{"text":"Cut"}],"role":"model"},"finishReason":"MAX_TOKENS","index":1}],
             "usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":8,"totalTokenCount":20},
             "modelVersion":"gemini-2.0-flash-001","responseId":"abc123"}
            """));

        using var response = await ChatAsync(fixture.Host, """{"model":"gemini-flash","messages":[{"role":"user","content":"hi"}],"n":2}""");

        var json = await OkJsonAsync(response);
        Assert.Equal("chat.completion", json.GetProperty("object").GetString());
        Assert.StartsWith("chatcmpl-", json.GetProperty("id").GetString(), StringComparison.Ordinal);
        var choices = json.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal(2, choices.Count);
        Assert.Equal(0, choices[0].GetProperty("index").GetInt32());
        Assert.Equal("assistant", choices[0].GetProperty("message").GetProperty("role").GetString());
        Assert.Equal("Hello there", choices[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", choices[0].GetProperty("finish_reason").GetString());
        Assert.Equal(1, choices[1].GetProperty("index").GetInt32());
        Assert.Equal("Cut", choices[1].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("length", choices[1].GetProperty("finish_reason").GetString());
        var usage = json.GetProperty("usage");
        Assert.Equal(12, usage.GetProperty("prompt_tokens").GetInt64());
        Assert.Equal(8, usage.GetProperty("completion_tokens").GetInt64());
        Assert.Equal(20, usage.GetProperty("total_tokens").GetInt64());
        // 12 × $0.1 + 8 × $0.4 per million tokens.
        Assert.Equal(0.0000044m, DecimalHeader(response, "x-gateway-cost"));
    }

    [Fact]
    public async Task A_function_call_becomes_a_tool_call_with_json_string_arguments()
    {
        fixture.Answer(static ctx => FakeUpstream.Json(ctx, """
            {"candidates":[{"content":{"parts":[{"functionCall":{"name":"get_weather","args":{"city":"Rome","days":2}}}],"role":"model"},"finishReason":"STOP","index":0}],
             "usageMetadata":{"promptTokenCount":30,"candidatesTokenCount":8,"thoughtsTokenCount":5,"totalTokenCount":43},"modelVersion":"gemini-2.0-flash"}
            """));

        using var response = await ChatAsync(fixture.Host, $$$"""
            {"model":"gemini-flash","messages":[{"role":"user","content":"Weather in Rome?"}],
             "tools":[{"type":"function","function":{"name":"get_weather","parameters":{{{WeatherSchema}}}}}]}
            """);

        var json = await OkJsonAsync(response);
        var choice = Assert.Single(json.GetProperty("choices").EnumerateArray());
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        var message = choice.GetProperty("message");
        Assert.Equal(JsonValueKind.Null, message.GetProperty("content").ValueKind);
        var call = Assert.Single(message.GetProperty("tool_calls").EnumerateArray());
        Assert.False(string.IsNullOrEmpty(call.GetProperty("id").GetString()));
        Assert.Equal("function", call.GetProperty("type").GetString());
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        var arguments = call.GetProperty("function").GetProperty("arguments");
        Assert.Equal(JsonValueKind.String, arguments.ValueKind);
        JsonEqual("""{"city":"Rome","days":2}""", arguments.GetString()!);
        // Gemini's thinking tokens are billed as output: OpenAI counts them in completion_tokens.
        var usage = json.GetProperty("usage");
        Assert.Equal(30, usage.GetProperty("prompt_tokens").GetInt64());
        Assert.Equal(13, usage.GetProperty("completion_tokens").GetInt64());
        Assert.Equal(5, usage.GetProperty("completion_tokens_details").GetProperty("reasoning_tokens").GetInt64());
    }

    [Fact]
    public async Task An_invalid_argument_error_is_a_400_in_openais_envelope()
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Json(ctx,
            """{"error":{"code":400,"message":"Invalid value at 'generation_config.temperature'","status":"INVALID_ARGUMENT"}}""", 400));

        using var response = await ChatAsync(fixture.Host, """{"model":"gemini-flash","messages":[{"role":"user","content":"hi"}]}""");

        var error = await ErrorEnvelopeAsync(response, 400);
        Assert.Equal("Invalid value at 'generation_config.temperature'", error.GetProperty("message").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Single(seen);
    }

    [Theory]
    [InlineData("""[{"error":{"code":400,"message":"Bad field","status":"INVALID_ARGUMENT"}}]""", "Bad field")]
    [InlineData("\"just a string\"", null)]
    [InlineData("[1,2]", null)]
    public async Task Error_bodies_of_any_shape_get_openais_envelope(string body, string? message)
    {
        fixture.Answer(ctx => FakeUpstream.Json(ctx, body, 400));

        using var response = await ChatAsync(fixture.Host, """{"model":"gemini-flash","messages":[{"role":"user","content":"hi"}]}""");

        var error = await ErrorEnvelopeAsync(response, 400);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        if (message is not null) Assert.Equal(message, error.GetProperty("message").GetString());
    }

    // ---- streaming ----

    [Fact]
    public async Task A_stream_is_requested_with_alt_sse_and_becomes_chunks_usage_and_done()
    {
        var seen = fixture.Answer(static ctx => RawSseAsync(ctx,
        [
            StreamText("The quick"),
            StreamText(" brown fox"),
            StreamText(" jumps.", "STOP", """{"promptTokenCount":9,"candidatesTokenCount":6,"totalTokenCount":15}"""),
        ]));

        using var response = await ChatAsync(fixture.Host,
            """{"model":"gemini-flash","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}""");

        var stream = await OpenAIStream.ReadAsync(response);
        var request = Assert.Single(seen);
        Assert.Equal("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", request.PathAndQuery);
        Assert.Equal(fixture.Key.Value, request.Headers["x-goog-api-key"]);
        Assert.False(request.Json.TryGetProperty("stream", out _));
        JsonEqual("""[{"role":"user","parts":[{"text":"hi"}]}]""", request.Json.GetProperty("contents"));

        Assert.True(stream.Done, "the stream must end with data: [DONE] although Gemini sends none");
        Assert.EndsWith("data: [DONE]\n\n", stream.Raw, StringComparison.Ordinal);
        Assert.Null(stream.Error);
        Assert.Equal("The quick brown fox jumps.", stream.Text);
        Assert.Equal(["stop"], stream.FinishReasons);
        Assert.Equal("assistant", stream.Deltas.First().GetProperty("role").GetString());
        var last = stream.Chunks[^1];
        Assert.Equal(0, last.GetProperty("choices").GetArrayLength());
        Assert.Equal(9, last.GetProperty("usage").GetProperty("prompt_tokens").GetInt64());
        Assert.Equal(6, last.GetProperty("usage").GetProperty("completion_tokens").GetInt64());
        Assert.Equal(15, last.GetProperty("usage").GetProperty("total_tokens").GetInt64());
        Assert.Equal("stop", stream.Chunks[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task A_streamed_function_call_becomes_a_tool_call_chunk()
    {
        fixture.Answer(static ctx => RawSseAsync(ctx,
        [
            Event("""
                {"candidates":[{"content":{"parts":[{"functionCall":{"name":"get_weather","args":{"city":"Rome"}}}],"role":"model"},"finishReason":"STOP","index":0}],
                 "usageMetadata":{"promptTokenCount":20,"candidatesTokenCount":5,"totalTokenCount":25},"modelVersion":"gemini-2.0-flash"}
                """),
        ]));

        using var response = await ChatAsync(fixture.Host, $$$"""
            {"model":"gemini-flash","messages":[{"role":"user","content":"Weather in Rome?"}],"stream":true,
             "tools":[{"type":"function","function":{"name":"get_weather","parameters":{{{WeatherSchema}}}}}]}
            """);

        var stream = await OpenAIStream.ReadAsync(response);
        Assert.True(stream.Done);
        Assert.Equal(["tool_calls"], stream.FinishReasons);
        var call = Assert.Single(stream.Deltas.Where(static d => d.TryGetProperty("tool_calls", out _)).SelectMany(static d => d.GetProperty("tool_calls").EnumerateArray()));
        Assert.Equal(0, call.GetProperty("index").GetInt32());
        Assert.False(string.IsNullOrEmpty(call.GetProperty("id").GetString()));
        Assert.Equal("function", call.GetProperty("type").GetString());
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        JsonEqual("""{"city":"Rome"}""", call.GetProperty("function").GetProperty("arguments").GetString()!);
    }

    [Fact]
    public async Task A_stream_that_ends_before_a_finish_reason_ends_with_an_error_event_and_no_done()
    {
        var seen = fixture.Answer(static ctx => RawSseAsync(ctx, [StreamText("The quick"), StreamText(" brown")]));

        using var response = await ChatAsync(fixture.Host,
            """{"model":"gemini-flash","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}""");

        var stream = await OpenAIStream.ReadAsync(response);
        AssertInterrupted(stream, "The quick brown");
        Assert.Single(seen);
    }

    [Fact]
    public async Task A_connection_reset_before_a_finish_reason_ends_with_an_error_event_and_no_done()
    {
        var clientHasHeaders = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var seen = fixture.Answer(async ctx =>
        {
            await RawSseAsync(ctx, [StreamText("The quick")]);
            // Reset only once the gateway has committed the stream: a reset can discard bytes not yet read.
            await Wait.ForAsync(clientHasHeaders.Task, TimeSpan.FromSeconds(30), "the client to receive the response headers");
            ctx.Abort();
        });

        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gemini-flash","messages":[{"role":"user","content":"hi"}],"stream":true}""", System.Text.Encoding.UTF8, "application/json"),
        };
        using var response = await fixture.Host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        clientHasHeaders.SetResult();

        var stream = await OpenAIStream.ReadAsync(response);
        AssertInterrupted(stream, "The quick");
        Assert.Single(seen);
    }

    private static void AssertInterrupted(OpenAIStream stream, string text)
    {
        Assert.False(stream.Done, "a truncated stream must not end with [DONE]");
        Assert.DoesNotContain("[DONE]", stream.Raw, StringComparison.Ordinal);
        Assert.Equal(text, stream.Text);
        Assert.Empty(stream.FinishReasons);
        var error = Assert.NotNull(stream.Error);
        Assert.Equal(["message", "type", "param", "code"], error.EnumerateObject().Select(static p => p.Name).ToArray());
        Assert.Equal("stream_interrupted", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_malformed_event_after_the_first_text_ends_the_stream_with_an_error_event_and_no_done()
    {
        fixture.Answer(static ctx => RawSseAsync(ctx,
        [
            StreamText("The quick"),
            Event("""{"candidates":[{"content":{"parts":[{"functionCall":{"args":{}}}]},"index":0}]}"""),
            StreamText(" never seen", "STOP"),
        ]));

        using var response = await ChatAsync(fixture.Host, """{"model":"gemini-flash","messages":[{"role":"user","content":"hi"}],"stream":true}""");

        var stream = await OpenAIStream.ReadAsync(response);
        Assert.False(stream.Done, "a stream the gateway could not translate must not end with [DONE]");
        Assert.Equal("The quick", stream.Text);
        var error = Assert.NotNull(stream.Error);
        Assert.Equal(["message", "type", "param", "code"], error.EnumerateObject().Select(static p => p.Name).ToArray());
    }

    [Fact]
    public async Task An_embeddings_answer_without_embeddings_is_a_502_in_openais_envelope()
    {
        fixture.Answer(static ctx => FakeUpstream.Json(ctx, """{"unexpected":true}"""));

        using var response = await PostAsync(fixture.Host, "v1/embeddings", """{"model":"gemini-embedding","input":"hello"}""");

        var error = await ErrorEnvelopeAsync(response, 502);
        Assert.Equal("api_error", error.GetProperty("type").GetString());
    }

    // ---- embeddings ----

    [Fact]
    public async Task Embeddings_go_to_batch_embed_contents_and_come_back_as_an_openai_list()
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Json(ctx, """{"embeddings":[{"values":[0.1,-0.25,0.5]},{"values":[1.5,0,-3.75e-5]}]}"""));

        using var response = await PostAsync(fixture.Host, "v1/embeddings", """{"model":"gemini-embedding","input":["alpha","beta gamma delta"]}""");

        var json = await OkJsonAsync(response);
        var request = Assert.Single(seen);
        Assert.Equal("/v1beta/models/text-embedding-004:batchEmbedContents", request.PathAndQuery);
        Assert.Equal(fixture.Key.Value, request.Headers["x-goog-api-key"]);
        Assert.False(request.Headers.ContainsKey("authorization"));
        JsonEqual("""
            {"requests":[
              {"model":"models/text-embedding-004","content":{"parts":[{"text":"alpha"}]}},
              {"model":"models/text-embedding-004","content":{"parts":[{"text":"beta gamma delta"}]}}]}
            """, request.Json);

        Assert.Equal("list", json.GetProperty("object").GetString());
        var data = json.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(2, data.Count);
        double[][] expected = [[0.1, -0.25, 0.5], [1.5, 0, -3.75e-5]];
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal("embedding", data[i].GetProperty("object").GetString());
            Assert.Equal(i, data[i].GetProperty("index").GetInt32());
            Assert.Equal(expected[i], data[i].GetProperty("embedding").EnumerateArray().Select(static v => v.GetDouble()).ToArray());
        }
        // Gemini reports no usage: the gateway counts the input with its tokenizer.
        var usage = json.GetProperty("usage");
        Assert.True(usage.GetProperty("prompt_tokens").GetInt64() >= 2, usage.GetRawText());
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt64(), usage.GetProperty("total_tokens").GetInt64());
    }

    [Fact]
    public async Task Base64_embeddings_are_little_endian_float32_of_geminis_values()
    {
        fixture.Answer(static ctx => FakeUpstream.Json(ctx, """{"embeddings":[{"values":[0.1,-0.25,0.5,3.4028235e38]},{"values":[-1,2.5e-8,0,42.125]}]}"""));

        using var response = await PostAsync(fixture.Host, "v1/embeddings", """{"model":"gemini-embedding","input":["one","two"],"encoding_format":"base64"}""");

        var json = await OkJsonAsync(response);
        float[][] expected = [[0.1f, -0.25f, 0.5f, float.MaxValue], [-1f, 2.5e-8f, 0f, 42.125f]];
        var data = json.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(2, data.Count);
        for (var i = 0; i < 2; i++)
        {
            var embedding = data[i].GetProperty("embedding");
            Assert.Equal(JsonValueKind.String, embedding.ValueKind);
            var bytes = Convert.FromBase64String(embedding.GetString()!);
            Assert.Equal(expected[i].Length * 4, bytes.Length);
            var floats = Enumerable.Range(0, expected[i].Length).Select(k => BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(k * 4))).ToArray();
            Assert.Equal(expected[i], floats);
        }
        Assert.True(json.GetProperty("usage").GetProperty("prompt_tokens").GetInt64() > 0);
    }

    [Fact]
    public async Task The_official_sdk_reads_gemini_embeddings()
    {
        fixture.Answer(static ctx => FakeUpstream.Json(ctx, """{"embeddings":[{"values":[0.5,-0.75]},{"values":[0.125,8]}]}"""));
        var client = new EmbeddingClient("gemini-embedding", new ApiKeyCredential(fixture.Host.MasterKey),
            new OpenAIClientOptions { Endpoint = fixture.Host.OpenAIBase, NetworkTimeout = TimeSpan.FromSeconds(30) });

        OpenAIEmbeddingCollection result = await client.GenerateEmbeddingsAsync(["first", "second"]);

        Assert.Equal(2, result.Count);
        Assert.Equal([0.5f, -0.75f], result[0].ToFloats().ToArray());
        Assert.Equal([0.125f, 8f], result[1].ToFloats().ToArray());
        Assert.True(result.Usage.InputTokenCount > 0);
    }
}
