using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmMarketplace.Gateway.Benchmarks;

/// <summary>
/// A tiny Kestrel app on loopback answering <c>POST /v1/chat/completions</c> with a fixed chat completion, or the same
/// answer as server-sent events when the request asks for a stream. It allocates as little as it can, and the
/// <c>Direct</c> benchmark measures what it and the client cost so the gateway's share can be read off.
/// </summary>
internal sealed class LoopbackUpstream : IAsyncDisposable
{
    private static readonly byte[] Completion =
        """{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, how can I help?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":8,"total_tokens":20}}"""u8.ToArray();

    private static readonly byte[] Stream =
        """
        data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

        data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"content":"Hello there,"},"finish_reason":null}]}

        data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{"content":" how can I help?"},"finish_reason":null}]}

        data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

        data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"up","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":8,"total_tokens":20}}

        data: [DONE]


        """u8.ToArray();

    private static readonly byte[] StreamMarker = "\"stream\":true"u8.ToArray();

    private readonly WebApplication _app;

    private LoopbackUpstream(WebApplication app, string baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    /// <summary><c>http://127.0.0.1:PORT</c>.</summary>
    public string BaseUrl { get; }

    public static async Task<LoopbackUpstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Run(static async context =>
        {
            // Bodies here are small: one read into a stack-sized buffer tells a streamed request from a plain one.
            var buffer = new byte[4096];
            var length = 0;
            int read;
            while (length < buffer.Length && (read = await context.Request.Body.ReadAsync(buffer.AsMemory(length))) > 0) length += read;
            var stream = buffer.AsSpan(0, length).IndexOf(StreamMarker) >= 0;
            context.Response.StatusCode = 200;
            context.Response.ContentType = stream ? "text/event-stream" : "application/json";
            var body = stream ? Stream : Completion;
            context.Response.ContentLength = body.Length;
            await context.Response.Body.WriteAsync(body);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new LoopbackUpstream(app, address.TrimEnd('/'));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
