using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Access.Tests.Metering;

/// <summary>A client that hangs up mid-stream still pays for the prompt the upstream received and the tokens it generated until then.</summary>
public sealed class AbandonedStreamTests
{
    private static string Chunk(string text) =>
        $$"""data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4","choices":[{"index":0,"delta":{"content":"{{text}}"},"finish_reason":null}]}""";

    [Fact]
    public async Task A_stream_the_client_abandons_is_recorded_as_499_with_the_tokens_generated_so_far()
    {
        await using var upstream = await FakeUpstream.StartAsync(static async (context, _) =>
        {
            context.Response.StatusCode = 200;
            context.Response.ContentType = "text/event-stream";
            foreach (var text in new[] { "The quick brown fox", " jumps over the lazy dog", " and keeps on running" })
            {
                await context.Response.WriteAsync(Chunk(text) + "\n\n");
                await context.Response.Body.FlushAsync();
            }
            // Never finishes: the gateway must give up when its client does.
            await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(static _ => { }, TaskScheduler.Default);
        });
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl + "/v1"));
        var key = await CreateKeyAsync(host, new { name = "hangs-up" });
        using var client = ClientWithKey(host, key.GetProperty("key").GetString()!);
        var requestId = "req-" + Guid.NewGuid().ToString("N");

        using (var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Tell me about foxes and dogs"}]}""", Encoding.UTF8, "application/json"),
        })
        {
            request.Headers.Add("x-request-id", requestId);
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var chunks = 0;
            while (chunks < 3 && await reader.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("data: {", StringComparison.Ordinal)) chunks++;
            }
            Assert.Equal(3, chunks);
        } // hangs up here, mid-stream

        await Wait.ForAsync(upstream.Aborted.Task, TimeSpan.FromSeconds(10), "the gateway to abandon the upstream stream");
        System.Text.Json.JsonElement record = default;
        await Wait.UntilAsync(() =>
        {
            var page = GetJsonAsync(host.Client, $"api/v1/usage?requestId={requestId}").GetAwaiter().GetResult();
            var data = page.GetProperty("data");
            if (data.GetArrayLength() == 0) return false;
            record = data[0];
            return true;
        }, TimeSpan.FromSeconds(10), "the abandoned call's usage record");

        Assert.Equal(499, record.GetProperty("status").GetInt32());
        Assert.True(record.GetProperty("promptTokens").GetInt64() > 0, record.ToString());
        Assert.True(record.GetProperty("completionTokens").GetInt64() >= 12, record.ToString()); // three chunks of text
        // Prices: 1 per 1M input tokens, 2 per 1M output tokens.
        var expected = ((record.GetProperty("promptTokens").GetInt64() * 1m) + (record.GetProperty("completionTokens").GetInt64() * 2m)) / 1_000_000m;
        Assert.Equal(expected, record.GetProperty("costUsd").GetDecimal());
    }
}
