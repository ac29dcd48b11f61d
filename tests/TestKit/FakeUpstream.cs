using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.TestKit;

/// <summary>A request the fake upstream received.</summary>
public sealed record ReceivedRequest(string Method, string PathAndQuery, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;
}

/// <summary>
/// A real Kestrel server on loopback that plays an upstream provider (Anthropic, Gemini, Azure, or a faulty OpenAI),
/// answering with a handler the test sets and recording every request.
/// </summary>
public sealed class FakeUpstream : IAsyncDisposable
{
    private readonly LoopbackServer _server;
    private Func<HttpContext, int, Task> _handler = static (ctx, _) => { ctx.Response.StatusCode = 500; return Task.CompletedTask; };
    private int _count;

    private FakeUpstream(LoopbackServer server) => _server = server;

    /// <summary><c>http://127.0.0.1:PORT</c>.</summary>
    public string BaseUrl => _server.BaseUrl;

    public ConcurrentQueue<ReceivedRequest> Requests { get; } = new();

    public int Count => Volatile.Read(ref _count);

    /// <summary>Set when a request's connection was aborted by the gateway (client cancellation propagated).</summary>
    public TaskCompletionSource Aborted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<FakeUpstream> StartAsync(Func<HttpContext, int, Task>? handler = null)
    {
        FakeUpstream? self = null;
        var server = await LoopbackServer.StartAsync(app => app.Run(async context =>
        {
            var n = Interlocked.Increment(ref self!._count) - 1;
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var received = new ReceivedRequest(
                context.Request.Method,
                context.Request.Path + context.Request.QueryString,
                context.Request.Headers.ToDictionary(static h => h.Key.ToLowerInvariant(), static h => h.Value.ToString()),
                body);
            context.Items[typeof(ReceivedRequest)] = received;
            self.Requests.Enqueue(received);
            context.RequestAborted.Register(() => self.Aborted.TrySetResult());
            await self._handler(context, n);
        }));
        self = new FakeUpstream(server);
        if (handler is not null) self.Handle(handler);
        return self;
    }

    /// <summary>The request being answered, as the fake received it.</summary>
    public static ReceivedRequest Received(HttpContext context) => (ReceivedRequest)context.Items[typeof(ReceivedRequest)]!;

    /// <summary>True when the request being answered asked for a stream.</summary>
    public static bool WantsStream(HttpContext context) =>
        Received(context).Body.Length > 0 && Received(context).Json.TryGetProperty("stream", out var s) && s.ValueKind == System.Text.Json.JsonValueKind.True;

    /// <summary>Sets how the upstream answers; the int is the 0-based index of the request.</summary>
    public void Handle(Func<HttpContext, int, Task> handler) => _handler = handler;

    public static async Task Json(HttpContext context, string json, int status = 200)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json);
    }

    /// <summary>Writes SSE events, flushing each.</summary>
    public static async Task Sse(HttpContext context, IEnumerable<string> events, bool end = true)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream";
        foreach (var e in events)
        {
            await context.Response.WriteAsync(e + "\n\n");
            await context.Response.Body.FlushAsync();
        }
        if (!end)
        {
            // Cut the connection mid-stream.
            context.Abort();
        }
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
