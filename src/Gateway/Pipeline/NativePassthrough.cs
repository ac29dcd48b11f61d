using System.Buffers;
using System.Text.Json.Nodes;
using LlmMarketplace.Gateway.Errors;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Streaming;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>
/// A client protocol's native route to the deployments that speak it (Anthropic Messages to <c>anthropic</c>-type
/// deployments, OpenAI Responses to OpenAI-type deployments that declare it): when the engine's dispatcher picks such a
/// deployment, the client's own request is forwarded (only <c>model</c> replaced) and the upstream's answer or stream is
/// passed back as is, instead of the chat operation's translation. Every other attempt of the same call (a fallback to
/// another provider type) is translated as usual; the engine's stages, routing, retries, circuit breakers and metering
/// apply to both.
/// </summary>
internal abstract class NativePassthrough
{
    /// <summary>Whether this deployment speaks the client's protocol natively.</summary>
    public abstract bool Serves(RoutableDeployment deployment);

    /// <summary>The client's request for this deployment (its upstream model, its credentials).</summary>
    public abstract HttpRequestMessage CreateRequest(RoutableDeployment deployment);

    /// <summary>Reads a successful native answer, meters it and passes it to the client (with the exchange's engine helpers).</summary>
    public abstract ValueTask<AttemptOutcome> AnswerAsync(NativeExchange exchange, RoutableDeployment deployment, HttpResponseMessage response, AttemptTimer timer, CancellationToken cancellationToken);
}

/// <summary>What a native answer sees of the call: the HTTP exchange, the engine's metering and inspection, and the way past the protocol's translation.</summary>
internal sealed class NativeExchange(GatewayEngine engine, HttpContext context, GatewayCall call, string operation, object request, ClientProtocolFeature feature, bool inspectsAnswers)
{
    public GatewayEngine Engine { get; } = engine;

    public HttpContext Context { get; } = context;

    public GatewayCall Call { get; } = call;

    /// <summary>The operation's (translated) request, for a protocol that wants the translated view of an answer.</summary>
    public object Request { get; } = request;

    /// <summary>Records the usage and its cost at the deployment's prices on the call.</summary>
    public void Meter(RoutableDeployment deployment, TokenUsage usage) => Engine.Meter(Call, operation, deployment, usage);

    /// <summary>
    /// Lets the interceptors inspect a non-streamed answer in its chat form: returns null when one refused it (the
    /// refusal is answered), otherwise the body to serve (the same array when nothing was replaced).
    /// </summary>
    public ValueTask<byte[]?> InspectAsync(byte[] chatCompletion, CancellationToken cancellationToken) =>
        inspectsAnswers ? Engine.InspectAsync(Context, Call, chatCompletion, cancellationToken) : ValueTask.FromResult<byte[]?>(chatCompletion);

    /// <summary>From here on, what is written to the response goes to the client as is (no translation).</summary>
    public void PassThrough() => feature.PassThrough();
}

/// <summary>Set on the request by a client protocol carried by another operation: its native route, and the switch past its translation.</summary>
internal sealed class ClientProtocolFeature(NativePassthrough? native, Action passThrough)
{
    public NativePassthrough? Native { get; } = native;

    public void PassThrough() => passThrough();
}

/// <summary>What a native stream event came to.</summary>
internal enum NativeEventKind
{
    Continue,

    /// <summary>The stream's last event (held back until the call is recorded).</summary>
    End,

    /// <summary>The upstream reported an error in the stream.</summary>
    Error,
}

/// <summary>
/// The shared native route of a JSON-over-HTTP protocol with named server-sent events (Anthropic Messages, OpenAI
/// Responses): the answer passes through with only <c>model</c> set back to the client's name, usage is read from the
/// answer or the stream's events, and a stream cut mid-way ends with the protocol's error event. Before anything reached
/// the client, a failure is retried or falls back like any attempt.
/// </summary>
internal abstract class NativeSsePassthrough(string clientModel) : NativePassthrough
{
    /// <summary>The model name the client asked for (answers carry it instead of the upstream's id).</summary>
    protected string ClientModel { get; } = clientModel;

    /// <summary>Whether the client asked for a stream.</summary>
    protected abstract bool Stream { get; }

    /// <summary>Sets the client's model on a whole answer and returns the usage it reports (null when it reports none).</summary>
    protected abstract TokenUsage? OnAnswer(JsonObject answer);

    /// <summary>The answer as an OpenAI chat completion, for the interceptors' inspection (null when the protocol cannot give one).</summary>
    protected virtual byte[]? ChatView(byte[] answer, NativeExchange exchange, RoutableDeployment deployment) => null;

    /// <summary>Handles one stream event (may rewrite <paramref name="data"/> in place, e.g. its model) and updates the usage.</summary>
    protected abstract NativeEventKind OnEvent(string type, JsonObject data, ref TokenUsage? usage);

    /// <summary>Writes the protocol's error event that ends a broken stream.</summary>
    protected abstract void WriteErrorEvent(IBufferWriter<byte> output, string message);

    /// <summary>The final answer a stream's events carried, when the protocol keeps one (set by <see cref="OnEvent"/>).</summary>
    protected JsonObject? Final { get; set; }

    /// <summary>Called with the final answer (whole, or from a stream that ended cleanly) once it was sent.</summary>
    protected virtual ValueTask CompletedAsync(JsonObject answer, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public override ValueTask<AttemptOutcome> AnswerAsync(NativeExchange exchange, RoutableDeployment deployment, HttpResponseMessage response, AttemptTimer timer, CancellationToken cancellationToken) =>
        Stream ? StreamAsync(exchange, deployment, response, timer, cancellationToken) : CompleteAsync(exchange, deployment, response, timer, cancellationToken);

    private async ValueTask<AttemptOutcome> CompleteAsync(NativeExchange exchange, RoutableDeployment deployment, HttpResponseMessage response, AttemptTimer timer, CancellationToken ct)
    {
        var (context, call) = (exchange.Context, exchange.Call);
        timer.FirstByteReceived();
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        var upstreamTime = timer.Elapsed;
        var answer = JsonNode.Parse(bytes) as JsonObject ?? throw new JsonException("The native answer is not a JSON object.");
        var usage = OnAnswer(answer) ?? new TokenUsage(call.EstimatedPromptTokens, 0);
        call.TimeToFirstToken = timer.FirstByte;
        exchange.Meter(deployment, usage);
        if (ChatView(bytes, exchange, deployment) is { } chat)
        {
            var inspected = await exchange.InspectAsync(chat, ct);
            if (inspected is null) return AttemptOutcome.Done; // refused, and answered in the protocol's envelope
            if (!ReferenceEquals(inspected, chat))
            {
                // An interceptor replaced the answer: the replacement exists in chat form only, so it is translated.
                await exchange.Engine.WriteAnswerAsync(context, call, inspected, upstreamTime);
                return AttemptOutcome.Done;
            }
        }
        exchange.PassThrough();
        await exchange.Engine.WriteAnswerAsync(context, call, ClientProtocolJson.Serialize(answer), upstreamTime);
        await CompletedAsync(answer, CancellationToken.None);
        return AttemptOutcome.Done;
    }

    private async ValueTask<AttemptOutcome> StreamAsync(NativeExchange exchange, RoutableDeployment deployment, HttpResponseMessage response, AttemptTimer timer, CancellationToken ct)
    {
        var (context, call, engine) = (exchange.Context, exchange.Call, exchange.Engine);
        TokenUsage? usage = null;
        try
        {
            await using var upstream = await response.Content.ReadAsStreamAsync(ct);
            using var sse = new SseReader(upstream);
            var scratch = new ArrayBufferWriter<byte>(4096);

            // Before the first event goes to the client, a failure can still be retried elsewhere.
            if (!await sse.ReadAsync(timer.FirstByteToken))
            {
                return AttemptOutcome.Retry(new UpstreamError(502, "the upstream stream ended before its first event", OpenAIErrors.Api, null, "upstream_error"));
            }
            var kind = Handle(sse, scratch, ref usage);
            if (kind == NativeEventKind.Error)
            {
                return AttemptOutcome.Retry(deployment.Provider.Adapter.ReadError(502, sse.Data));
            }
            timer.FirstByteReceived();
            call.TimeToFirstToken = timer.FirstByte;
            engine.Metrics.FirstChunk(deployment.Provider.Name, call.Model, timer.FirstByte.TotalSeconds);

            // Commit: from here on, failures end the stream with the protocol's error event.
            call.Status = 200;
            GatewayEngine.SetSuccessHeaders(context, call, timer.Elapsed);
            exchange.PassThrough();
            await GatewayEngine.StartEventStreamAsync(context);
            var output = context.Response.Body;
            string? failure = null;
            while (kind == NativeEventKind.Continue)
            {
                await WriteAsync(output, scratch, context.RequestAborted);
                bool more;
                try
                {
                    more = await sse.ReadAsync(ct);
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException || (ex is OperationCanceledException && !context.RequestAborted.IsCancellationRequested))
                {
                    failure = ex is OperationCanceledException ? "The upstream stream timed out before completion." : "The upstream connection was lost before the stream completed.";
                    break;
                }
                if (!more)
                {
                    failure = "The upstream stream ended before completion.";
                    break;
                }
                kind = Handle(sse, scratch, ref usage);
            }

            exchange.Meter(deployment, usage ?? new TokenUsage(call.EstimatedPromptTokens, 0));
            if (kind != NativeEventKind.End)
            {
                // Never a silent truncation: the protocol's error event (the upstream's own when it sent one), no clean end.
                deployment.Health.RecordFailure();
                call.Status = 502;
                if (failure is not null) WriteErrorEvent(scratch, failure);
            }
            await engine.AfterAsync(call, context);
            await WriteAsync(output, scratch, context.RequestAborted);
            if (kind == NativeEventKind.End && Final is { } final) await CompletedAsync(final, CancellationToken.None);
            return AttemptOutcome.Done;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested && call.Usage == default)
        {
            // The client went away: bill what the upstream reported until then.
            exchange.Meter(deployment, usage ?? new TokenUsage(call.EstimatedPromptTokens, 0));
            throw;
        }
    }

    /// <summary>Reads one event, lets the protocol handle it and writes it (rewritten when the protocol changed it) to <paramref name="scratch"/>.</summary>
    private NativeEventKind Handle(SseReader sse, ArrayBufferWriter<byte> scratch, ref TokenUsage? usage)
    {
        JsonObject? data;
        try
        {
            data = JsonNode.Parse(sse.Data) as JsonObject;
        }
        catch (JsonException)
        {
            data = null;
        }
        if (data is null) return NativeEventKind.Continue; // not a JSON event (a comment or keep-alive): nothing to pass
        var type = sse.EventType ?? data["type"]?.GetValue<string>() ?? "message";
        var kind = OnEvent(type, data, ref usage);
        NamedSse.Write(scratch, type, data);
        return kind;
    }

    private static async ValueTask WriteAsync(Stream output, ArrayBufferWriter<byte> scratch, CancellationToken ct)
    {
        if (scratch.WrittenCount == 0) return;
        await output.WriteAsync(scratch.WrittenMemory, ct);
        scratch.ResetWrittenCount();
        await output.FlushAsync(ct);
    }
}
