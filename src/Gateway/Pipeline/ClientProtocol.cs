using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>
/// A client protocol (OpenAI Responses, Anthropic Messages) that sits on top of the chat operation: it parses the
/// client's request into an OpenAI chat request, and writes the chat operation's answers, streams and errors back in
/// the client's own format.
/// </summary>
internal interface IClientProtocol
{
    /// <summary>Translates a chat completion (the JSON object) into the client's answer.</summary>
    JsonNode TranslateCompletion(JsonObject completion);

    /// <summary>A translator for one streamed answer.</summary>
    IClientStreamTranslator CreateStreamTranslator();

    /// <summary>The client's error body for an error the chat operation answered in OpenAI's envelope.</summary>
    byte[] TranslateError(int status, string message, string? type, string? param, string? code);

    /// <summary>Called with the client's final answer (non-streamed or the end of a stream) once it was written.</summary>
    ValueTask CompletedAsync(JsonNode answer, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>The protocol's native route to the deployments that speak it (null: every deployment gets the translation).</summary>
    NativePassthrough? Native => null;
}

/// <summary>Translates OpenAI <c>chat.completion.chunk</c> events into a client protocol's events as they pass.</summary>
internal interface IClientStreamTranslator
{
    /// <summary>One chunk of the chat stream.</summary>
    void OnChunk(JsonObject chunk, IBufferWriter<byte> output);

    /// <summary>The chat stream ended cleanly (<c>[DONE]</c>).</summary>
    void OnDone(IBufferWriter<byte> output);

    /// <summary>The chat stream broke or the upstream reported an error: end with the client's error event.</summary>
    void OnError(string message, string? type, string? code, IBufferWriter<byte> output);

    /// <summary>The final answer once <see cref="OnDone"/> ran (null when the stream failed).</summary>
    JsonNode? Final { get; }
}

/// <summary>Writes named server-sent events: <c>event: NAME\ndata: {json}\n\n</c>.</summary>
internal static class NamedSse
{
    public static void Write(IBufferWriter<byte> output, string name, JsonNode data)
    {
        output.Write("event: "u8);
        output.Write(Encoding.UTF8.GetBytes(name));
        output.Write("\ndata: "u8);
        output.Write(JsonSerializer.SerializeToUtf8Bytes(data, ClientProtocolJson.Options));
        output.Write("\n\n"u8);
    }
}

internal static class ClientProtocolJson
{
    public static readonly JsonSerializerOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static byte[] Serialize(JsonNode node) => JsonSerializer.SerializeToUtf8Bytes(node, Options);

    /// <summary>A deep copy of an element as a node (null for JSON null or an absent value).</summary>
    public static JsonNode? Clone(JsonElement element) => element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null ? null : JsonNode.Parse(element.GetRawText());

    public static string Describe(JsonElement e) => RequestError.Describe(e);

    /// <summary>The element's string, or null when it is not a string (validation reads client JSON of any shape).</summary>
    public static string? StringOf(JsonElement e) => e.ValueKind == JsonValueKind.String ? e.GetString() : null;
}

/// <summary>
/// Runs the chat operation for a client protocol: the request body becomes the translated chat request, and the
/// response body becomes a stream that translates what the chat operation writes (a completion, an SSE stream, or an
/// error in OpenAI's envelope) into the client's format, so every gateway capability of chat applies unchanged.
/// </summary>
internal static class ClientProtocolRunner
{
    public static async Task RunAsync(HttpContext context, byte[] chatRequest, IClientProtocol protocol, Func<HttpContext, Task> chat)
    {
        var request = context.Request;
        request.Body = new MemoryStream(chatRequest, writable: false);
        request.ContentLength = chatRequest.Length;
        request.ContentType = "application/json";
        var original = context.Response.Body;
        var translating = new TranslatingStream(context, original, protocol);
        context.Response.Body = translating;
        context.Features.Set(new ClientProtocolFeature(protocol.Native, translating.PassThrough));
        try
        {
            await chat(context);
            await translating.CompleteAsync();
        }
        finally
        {
            context.Response.Body = original;
            context.Features.Set<ClientProtocolFeature>(null);
        }
    }

    private sealed class TranslatingStream(HttpContext context, Stream inner, IClientProtocol protocol) : Stream
    {
        /// <summary>Raw: a native answer, written to the client as is.</summary>
        private enum Mode { Undecided, Buffer, Stream, Raw }

        private readonly MemoryStream _buffer = new();
        private readonly ArrayBufferWriter<byte> _out = new(4096);
        private readonly List<byte> _line = new(1024);
        private Mode _mode;
        private IClientStreamTranslator? _translator;
        private bool _ended;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override Task FlushAsync(CancellationToken cancellationToken) => _mode is Mode.Stream or Mode.Raw ? inner.FlushAsync(cancellationToken) : Task.CompletedTask;

        /// <summary>A native answer follows: pass it through untranslated.</summary>
        public void PassThrough()
        {
            if (_mode != Mode.Undecided) throw new InvalidOperationException("The answer's translation already started.");
            _mode = Mode.Raw;
        }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_mode == Mode.Undecided)
            {
                var response = context.Response;
                var sse = response.StatusCode < 400 && (response.ContentType ?? "").StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase);
                _mode = sse ? Mode.Stream : Mode.Buffer;
                if (sse) _translator = protocol.CreateStreamTranslator();
            }
            if (_mode == Mode.Raw)
            {
                await inner.WriteAsync(buffer, cancellationToken);
                return;
            }
            if (_mode == Mode.Buffer)
            {
                _buffer.Write(buffer.Span);
                return;
            }
            foreach (var b in buffer.Span)
            {
                if (b == (byte)'\n')
                {
                    OnLine();
                    _line.Clear();
                }
                else if (b != (byte)'\r')
                {
                    _line.Add(b);
                }
            }
            if (_out.WrittenCount > 0)
            {
                await inner.WriteAsync(_out.WrittenMemory, cancellationToken);
                _out.ResetWrittenCount();
                await inner.FlushAsync(cancellationToken);
            }
        }

        private void OnLine()
        {
            if (_ended || _line.Count < 6) return;
            var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_line);
            if (!span.StartsWith("data:"u8)) return;
            var data = span[5..].TrimStart((byte)' ');
            if (data.SequenceEqual("[DONE]"u8))
            {
                _ended = true;
                _translator!.OnDone(_out);
                return;
            }
            JsonObject? chunk;
            try
            {
                chunk = JsonNode.Parse(data) as JsonObject;
            }
            catch (JsonException)
            {
                return;
            }
            if (chunk is null) return;
            if (chunk["error"] is JsonObject error)
            {
                _ended = true;
                _translator!.OnError(error["message"]?.GetValue<string>() ?? "The stream failed.", error["type"]?.GetValue<string>(), error["code"]?.GetValue<string>(), _out);
                return;
            }
            _translator!.OnChunk(chunk, _out);
        }

        /// <summary>After the chat operation returned: writes a buffered answer or error, or closes a broken stream.</summary>
        public async Task CompleteAsync()
        {
            var ct = context.RequestAborted;
            if (_mode == Mode.Stream)
            {
                if (!_ended && !ct.IsCancellationRequested)
                {
                    _ended = true;
                    _translator!.OnError("The stream ended before completion.", "server_error", "stream_interrupted", _out);
                    await inner.WriteAsync(_out.WrittenMemory, ct);
                    await inner.FlushAsync(ct);
                }
                if (_translator!.Final is { } final) await protocol.CompletedAsync(final, CancellationToken.None);
                return;
            }
            if (_mode is Mode.Undecided or Mode.Raw) return;
            var response = context.Response;
            byte[] body;
            JsonNode? answer = null;
            if (response.StatusCode >= 400)
            {
                string message = "The request failed.", type = "api_error";
                string? param = null, code = null;
                try
                {
                    if (JsonNode.Parse(_buffer.ToArray())?["error"] is JsonObject error)
                    {
                        message = error["message"]?.GetValue<string>() ?? message;
                        type = error["type"]?.GetValue<string>() ?? type;
                        param = error["param"]?.GetValue<string>();
                        code = error["code"]?.GetValue<string>();
                    }
                }
                catch (JsonException)
                {
                }
                body = protocol.TranslateError(response.StatusCode, message, type, param, code);
            }
            else
            {
                var completion = JsonNode.Parse(_buffer.ToArray()) as JsonObject ?? throw new InvalidOperationException("The chat operation answered a body that is not a JSON object.");
                answer = protocol.TranslateCompletion(completion);
                body = ClientProtocolJson.Serialize(answer);
            }
            if (!response.HasStarted)
            {
                response.ContentLength = body.Length;
                response.ContentType = "application/json";
            }
            await inner.WriteAsync(body, ct);
            if (answer is not null) await protocol.CompletedAsync(answer, CancellationToken.None);
        }
    }
}
