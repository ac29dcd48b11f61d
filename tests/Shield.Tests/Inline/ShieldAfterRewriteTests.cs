using System.Text.Json.Nodes;
using LlmMarketplace.Gateway.Pipeline;
using Microsoft.Extensions.DependencyInjection;

namespace LlmMarketplace.Shield.Tests.Inline;

/// <summary>Two stages rewrite one request: the shield's redaction builds on the earlier rewrite instead of the client's body.</summary>
public sealed class ShieldAfterRewriteTests
{
    /// <summary>A policy-stage interceptor that appends a note to every message's string content.</summary>
    private sealed class NoteAppender : IGatewayInterceptor
    {
        public const string Note = " [noted by an earlier stage]";

        public GatewayStage Stage => GatewayStage.Policy;

        public ValueTask<GatewayRejection?> BeforeAsync(GatewayCall call, CancellationToken cancellationToken)
        {
            var body = JsonNode.Parse(call.Request.GetRawText())!.AsObject();
            foreach (var message in body["messages"]!.AsArray())
            {
                if (message!["content"] is JsonValue content && content.TryGetValue<string>(out var text)) message["content"] = text + Note;
            }
            call.ReplacementBody = JsonSerializer.SerializeToUtf8Bytes(body);
            return ValueTask.FromResult<GatewayRejection?>(null);
        }

        public ValueTask AfterAsync(GatewayCall call, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    [Fact]
    public async Task The_shield_redacts_the_body_an_earlier_stage_rewrote_and_keeps_that_rewrite()
    {
        await using var upstream = await FakeUpstream.StartAsync(static (ctx, _) => FakeUpstream.Json(ctx,
            """{"id":"c1","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}"""));
        await using var host = await GatewayHost.StartAsync(
            ShieldConfig.Yaml(upstream.BaseUrl, [new("redacting-model")], [new("redacting-model", Pii: "redact")]),
            configureServices: static services => services.AddSingleton<IGatewayInterceptor, NoteAppender>());

        var body = JsonSerializer.Serialize(new { model = "redacting-model", messages = new[] { new { role = "user", content = "Write to jane.doe@example.com please" } } });
        using var response = await host.Client.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(upstream.Requests).Json;
        Assert.Equal("Write to [EMAIL] please" + NoteAppender.Note, sent.GetProperty("messages")[0].GetProperty("content").GetString());
    }
}
