using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmMarketplace.Bench.Optimizer;

/// <summary>
/// An OpenAI-compatible upstream on loopback that answers each known prompt with the recorded answer of the model
/// asked (<c>weak-model</c> or <c>strong-model</c>). It reports no usage, so the gateway counts the tokens itself.
/// </summary>
internal sealed class ReplayUpstream : IAsyncDisposable
{
    public const string WeakModel = "weak-model";
    public const string StrongModel = "strong-model";

    /// <summary>MMLU has no recorded answer text: both models answer with this (one choice letter's worth of tokens).</summary>
    private const string NoRecordedText = "Answer: A";

    private readonly WebApplication _app;

    private ReplayUpstream(WebApplication app, string baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    public static async Task<ReplayUpstream> StartAsync(IEnumerable<Item> items)
    {
        var byPrompt = new Dictionary<string, Item>(StringComparer.Ordinal);
        foreach (var item in items) byPrompt.TryAdd(item.Prompt, item);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapPost("/v1/chat/completions", async context =>
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body);
            var model = body.RootElement.GetProperty("model").GetString()!;
            var prompt = body.RootElement.GetProperty("messages")[0].GetProperty("content").GetString()!;
            if (!byPrompt.TryGetValue(prompt, out var item) || model is not (WeakModel or StrongModel))
            {
                context.Response.StatusCode = 404;
                await context.Response.WriteAsJsonAsync(new { error = new { message = "no recorded answer", type = "invalid_request_error" } });
                return;
            }
            var text = (model == WeakModel ? item.WeakAnswer : item.StrongAnswer) ?? NoRecordedText;
            await context.Response.WriteAsJsonAsync(new
            {
                id = "chatcmpl-replay",
                @object = "chat.completion",
                created = 0,
                model,
                choices = new[] { new { index = 0, message = new { role = "assistant", content = text }, finish_reason = "stop" } },
            });
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new ReplayUpstream(app, address.TrimEnd('/'));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
