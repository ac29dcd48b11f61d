using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.TestKit;

/// <summary>
/// How a fake OpenAI-type upstream answers every operation the gateway forwards to it: embeddings (one vector per
/// input), chat completions ("Hello", or a <c>get_weather</c> call for Paris when the request offers tools), and the
/// same as a stream, always with usage; rerank (every document, best first), moderations, images (n), speech (bytes) and transcriptions.
/// </summary>
public static class OpenAIFake
{
    public const string Usage = """{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}""";

    public static Task AnswerAsync(HttpContext ctx, int _)
    {
        var request = FakeUpstream.Received(ctx);
        if (request.PathAndQuery.EndsWith("/audio/transcriptions", StringComparison.Ordinal))
        {
            // A multipart form, not JSON: the transcription of any audio, with its duration.
            return FakeUpstream.Json(ctx, """{"text":"Hello from the audio.","usage":{"type":"duration","seconds":3}}""");
        }
        var json = request.Json;
        if (request.PathAndQuery.EndsWith("/rerank", StringComparison.Ordinal))
        {
            var results = string.Join(",", Enumerable.Range(0, json.GetProperty("documents").GetArrayLength()).Select(static i => $$"""{"index":{{i}},"relevance_score":0.{{9 - (i % 9)}}}"""));
            return FakeUpstream.Json(ctx, $$$"""{"id":"rr-1","results":[{{{results}}}],"usage":{"total_tokens":9}}""");
        }
        if (request.PathAndQuery.EndsWith("/moderations", StringComparison.Ordinal))
        {
            return FakeUpstream.Json(ctx, """{"id":"modr-1","model":"mod","results":[{"flagged":false,"categories":{},"category_scores":{}}]}""");
        }
        if (request.PathAndQuery.EndsWith("/images/generations", StringComparison.Ordinal))
        {
            var n = json.TryGetProperty("n", out var count) && count.ValueKind == JsonValueKind.Number ? count.GetInt32() : 1;
            var images = string.Join(",", Enumerable.Range(0, n).Select(static _ => """{"url":"https://images.invalid/1.png"}"""));
            return FakeUpstream.Json(ctx, $$"""{"created":1,"data":[{{images}}]}""");
        }
        if (request.PathAndQuery.EndsWith("/audio/speech", StringComparison.Ordinal))
        {
            ctx.Response.ContentType = "audio/mpeg";
            return ctx.Response.Body.WriteAsync("mp3"u8.ToArray()).AsTask();
        }
        if (request.PathAndQuery.EndsWith("/embeddings", StringComparison.Ordinal))
        {
            var input = json.GetProperty("input");
            var n = input.ValueKind == JsonValueKind.Array && input.GetArrayLength() > 0 && input[0].ValueKind != JsonValueKind.Number ? input.GetArrayLength() : 1;
            var data = string.Join(",", Enumerable.Range(0, n).Select(static i => $$"""{"object":"embedding","index":{{i}},"embedding":[0.1,0.2]}"""));
            return FakeUpstream.Json(ctx, $$$"""{"object":"list","data":[{{{data}}}],"model":"e","usage":{"prompt_tokens":7,"total_tokens":7}}""");
        }
        var tools = json.TryGetProperty("tools", out var t) && t.ValueKind == JsonValueKind.Array && t.GetArrayLength() > 0;
        if (FakeUpstream.WantsStream(ctx))
        {
            string[] events = tools
                ?
                [
                    """data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}""",
                    """data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]}""",
                    """data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}]}""",
                    """data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}""",
                    """data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[],"usage":""" + Usage + "}",
                    "data: [DONE]",
                ]
                :
                [
                    """data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}""",
                    """data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}""",
                    """data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""",
                    """data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[],"usage":""" + Usage + "}",
                    "data: [DONE]",
                ];
            return FakeUpstream.Sse(ctx, events);
        }
        var message = tools
            ? """{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}"""
            : """{"role":"assistant","content":"Hello"}""";
        return FakeUpstream.Json(ctx, $$"""{"id":"c1","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,"message":{{message}},"finish_reason":"{{(tools ? "tool_calls" : "stop")}}"}],"usage":{{Usage}}}""");
    }
}
