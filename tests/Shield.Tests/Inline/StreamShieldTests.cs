using System.ClientModel;
using Microsoft.AspNetCore.Http;
using OpenAI;
using OpenAI.Chat;

namespace LlmMarketplace.Shield.Tests.Inline;

/// <summary>
/// Streamed answers are scanned as they pass: an upstream that streams personal data and a key split across chunks, read
/// through the gateway with the official OpenAI .NET SDK (and raw SSE for the Responses API and the error event). The raw
/// values never reach the client; the rest of the answer still streams.
/// </summary>
public sealed class StreamShieldTests : UpstreamHostTests
{
    // Every sensitive value is cut across chunk boundaries.
    private static readonly string[] Pieces =
    [
        "Sure. Write to jane.d", "oe@exam", "ple.com or call +44 20 79", "46 0958 any time. Your card 4111 1111 ", "1111 1111 is on file, and the deploy key is sk-proj-abcDEF12345", "67890abcdef1234 for now. ",
        "That is all I have on record for your account today.",
    ];

    private const string Redacted = "Sure. Write to [EMAIL] or call [PHONE] any time. Your card [CREDIT_CARD] is on file, and the deploy key is [SECRET] for now. That is all I have on record for your account today.";

    private static readonly string[] Raw = ["jane", "oe@exam", "7946", "0958", "4111", "sk-proj", "67890abc"];

    protected override async Task AnswerAsync(HttpContext ctx, int _)
    {
        var events = new List<string>();
        for (var i = 0; i < Pieces.Length; i++)
        {
            var delta = i == 0 ? new { role = "assistant", content = Pieces[i] } : (object)new { content = Pieces[i] };
            events.Add("data: " + JsonSerializer.Serialize(new { id = "c1", @object = "chat.completion.chunk", created = 1, model = "up", choices = new[] { new { index = 0, delta, finish_reason = (string?)null } } }));
        }
        events.Add("""data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""");
        events.Add("""data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":40,"total_tokens":45}}""");
        events.Add("data: [DONE]");
        await FakeUpstream.Sse(ctx, events);
    }

    protected override string HostConfig(string upstreamBaseUrl) => ShieldConfig.Yaml(upstreamBaseUrl,
        [new("open-model"), new("redacting-model"), new("blocking-model")],
        [new("redacting-model", Pii: "redact", Secrets: "redact"), new("blocking-model", Pii: "block", Secrets: "block")]);

    private ChatClient Chat(string model) =>
        new OpenAIClient(new ApiKeyCredential(Host.MasterKey), new OpenAIClientOptions { Endpoint = Host.OpenAIBase, NetworkTimeout = TimeSpan.FromSeconds(30) }).GetChatClient(model);

    [Fact]
    public async Task A_redacting_scope_streams_the_answer_with_placeholders_and_never_the_raw_values()
    {
        var updates = new List<string>();
        ChatFinishReason? finish = null;
        await foreach (var update in Chat("redacting-model").CompleteChatStreamingAsync([new UserChatMessage("What do you have on file for me?")]))
        {
            foreach (var part in update.ContentUpdate) updates.Add(part.Text);
            finish ??= update.FinishReason;
        }

        var text = string.Concat(updates);
        Assert.Equal(Redacted, text);
        foreach (var raw in Raw) Assert.DoesNotContain(raw, text, StringComparison.Ordinal);
        Assert.Equal(ChatFinishReason.Stop, finish);
        // Still a stream: text was released before the upstream's last chunk, not held to the end.
        Assert.True(updates.Count(static u => u.Length > 0) >= 3, $"released in {updates.Count(static u => u.Length > 0)} pieces");
    }

    [Fact]
    public async Task Without_a_scope_the_stream_passes_unchanged()
    {
        var text = new StringBuilder();
        await foreach (var update in Chat("open-model").CompleteChatStreamingAsync([new UserChatMessage("What do you have on file for me?")]))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
        }

        Assert.Equal(string.Concat(Pieces), text.ToString());
    }

    [Fact]
    public async Task A_blocking_scope_ends_the_stream_with_an_error_event_before_the_first_value()
    {
        var body = JsonSerializer.Serialize(new { model = "blocking-model", stream = true, messages = new[] { new { role = "user", content = "What do you have on file for me?" } } });
        using var response = await Host.Client.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        var sse = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        foreach (var raw in Raw) Assert.DoesNotContain(raw, sse, StringComparison.Ordinal);
        Assert.DoesNotContain("[DONE]", sse, StringComparison.Ordinal);
        var events = sse.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(static e => JsonDocument.Parse(e["data: ".Length..]).RootElement).ToList();
        var error = events[^1].GetProperty("error");
        Assert.Equal("content_blocked", error.GetProperty("code").GetString());
        Assert.Contains("email", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        // What came before the error is the text before the e-mail address, and nothing of it.
        var sent = string.Concat(events.SkipLast(1).Select(static e => e.GetProperty("choices").EnumerateArray().Select(static c => c.GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : "").FirstOrDefault()));
        Assert.True("Sure. Write to ".StartsWith(sent, StringComparison.Ordinal), sent);
    }

    [Fact]
    public async Task The_sdk_reading_a_blocked_stream_never_sees_the_raw_values()
    {
        var text = new StringBuilder();
        try
        {
            await foreach (var update in Chat("blocking-model").CompleteChatStreamingAsync([new UserChatMessage("What do you have on file for me?")]))
            {
                foreach (var part in update.ContentUpdate) text.Append(part.Text);
            }
        }
        catch (ClientResultException)
        {
            // The SDK may surface the error event as an exception; what it yielded before is what matters.
        }

        foreach (var raw in Raw) Assert.DoesNotContain(raw, text.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("is on file", text.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_responses_stream_is_redacted_the_same_way()
    {
        var body = JsonSerializer.Serialize(new { model = "redacting-model", stream = true, input = "What do you have on file for me?" });
        using var response = await Host.Client.PostAsync("v1/responses", new StringContent(body, Encoding.UTF8, "application/json"));
        var sse = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        foreach (var raw in Raw) Assert.DoesNotContain(raw, sse, StringComparison.Ordinal);
        var deltas = sse.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Where(static e => e.StartsWith("event: response.output_text.delta", StringComparison.Ordinal))
            .Select(static e => JsonDocument.Parse(e[(e.IndexOf("data: ", StringComparison.Ordinal) + 6)..]).RootElement.GetProperty("delta").GetString());
        Assert.Equal(Redacted, string.Concat(deltas));
        Assert.Contains("event: response.completed", sse, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_messages_stream_is_redacted_the_same_way()
    {
        var body = JsonSerializer.Serialize(new { model = "redacting-model", stream = true, max_tokens = 100, messages = new[] { new { role = "user", content = "What do you have on file for me?" } } });
        using var response = await Host.Client.PostAsync("v1/messages", new StringContent(body, Encoding.UTF8, "application/json"));
        var sse = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        foreach (var raw in Raw) Assert.DoesNotContain(raw, sse, StringComparison.Ordinal);
        var deltas = sse.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Where(static e => e.StartsWith("event: content_block_delta", StringComparison.Ordinal))
            .Select(static e => JsonDocument.Parse(e[(e.IndexOf("data: ", StringComparison.Ordinal) + 6)..]).RootElement.GetProperty("delta").GetProperty("text").GetString());
        Assert.Equal(Redacted, string.Concat(deltas));
        Assert.Contains("event: message_stop", sse, StringComparison.Ordinal);
    }
}
