using System.Buffers;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Errors;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Streaming;
using LlmMarketplace.Gateway.Telemetry;
using LlmMarketplace.Gateway.Tokens;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LlmMarketplace.Gateway.ChatCompletions;

/// <summary>
/// <c>POST /v1/chat/completions</c>, the chat operation on the <see cref="GatewayEngine"/> (Responses and Messages are
/// carried by it too): parses and validates chat requests, translates them to each provider and back (whole answers and
/// streams), counts tokens. The pipeline around it is the engine's.
/// </summary>
internal sealed class ChatCompletionsHandler(
    GatewayEngine engine,
    TokenCounter tokens,
    GatewayMetrics metrics,
    ILogger<ChatCompletionsHandler> logger) : GatewayOperation<ChatRequest>, IOperationEndpoint
{
    /// <param name="operation">The API the client called (<c>chat</c>, or <c>responses</c> / <c>messages</c> for a client protocol on top of chat), as named in usage records.</param>
    public Task HandleAsync(HttpContext context, string operation = "chat") => engine.HandleAsync(context, this, operation);

    Task IOperationEndpoint.HandleAsync(HttpContext context) => engine.HandleAsync(context, this, "chat");

    public override string Name => "chat";

    public override ModelKind Kind => ModelKind.Chat;

    public override bool AutoRouted => true;

    public override bool InspectsAnswers => true;

    public override ChatRequest? Parse(ReadOnlyMemory<byte> body, out RequestError? error) => ChatRequest.Parse(body, out error);

    public override RequestShape Describe(ChatRequest request) => new(request.Model, request.Stream, request.IncludeUsage, request.Route, request.Root);

    public override string WrongKindMessage(string model) => $"The model `{model}` is not a chat model: it does not support chat completions.";

    public override int CountPromptTokens(ChatRequest request, RoutableModel model) =>
        tokens.CountChatPrompt(model.Name, request.Messages, request.TryGet("tools", out var t) ? t : null);

    /// <summary>Every message's text (its string content, or each text part); a model takes the user's and tools' as instructions.</summary>
    public override IReadOnlyList<PromptText> PromptTexts(System.Text.Json.JsonElement root)
    {
        var texts = new List<PromptText>();
        if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != System.Text.Json.JsonValueKind.Array) return texts;
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind == System.Text.Json.JsonValueKind.Object)
            {
                var role = message.TryGetProperty("role", out var r) && r.ValueKind == System.Text.Json.JsonValueKind.String ? r.GetString() : null;
                PromptTextReader.AddStrings(texts, message, "content", role is "user" or "tool" or "function", "text", JsonStep.Of("messages"), JsonStep.At(index));
            }
            index++;
        }
        return texts;
    }

    /// <summary>The prompt and the completion asked for must fit the model's context window.</summary>
    public override GatewayRejection? Validate(GatewayCall call, ChatRequest request, RoutableModel model)
    {
        if (model.Config.ContextWindow is not { } window) return null;
        var maxOut = request.TryGet("max_completion_tokens", out var mct) ? mct.GetInt64() : request.TryGet("max_tokens", out var mt) ? mt.GetInt64() : 0;
        var prompt = call.EstimatedPromptTokens;
        if (prompt + maxOut <= window) return null;
        return new GatewayRejection(400,
            $"This model's maximum context length is {window} tokens. However, you requested {prompt + maxOut} tokens ({prompt} in the messages, {maxOut} in the completion). Please reduce the length of the messages or completion.",
            OpenAIErrors.InvalidRequest, "context_length_exceeded", "messages");
    }

    public override HttpRequestMessage CreateUpstreamRequest(RoutableDeployment deployment, ChatRequest request) =>
        deployment.Provider.Adapter.CreateChatRequest(deployment, request);

    public override ValueTask<AttemptOutcome> AnswerAsync(GatewayExchange<ChatRequest> exchange, RoutableDeployment deployment, HttpResponseMessage response, AttemptTimer timer, CancellationToken cancellationToken) =>
        exchange.Request.Stream
            ? StreamAsync(exchange, deployment, response, timer, cancellationToken)
            : CompleteAsync(exchange, deployment, response, timer, cancellationToken);

    private async ValueTask<AttemptOutcome> CompleteAsync(GatewayExchange<ChatRequest> exchange, RoutableDeployment deployment, HttpResponseMessage response, AttemptTimer timer, CancellationToken ct)
    {
        var call = exchange.Call;
        timer.FirstByteReceived();
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        var upstreamTime = timer.Elapsed;
        var answer = deployment.Provider.Adapter.ReadChatResponse(bytes, exchange.Request, deployment);
        var responseBody = answer.Body;
        TokenUsage usage;
        if (answer.Usage is { } reported)
        {
            usage = reported;
        }
        else
        {
            usage = new TokenUsage(call.EstimatedPromptTokens, tokens.Count(call.Model, answer.CompletionText));
            responseBody = UsageJson.WithUsage(responseBody, usage);
        }
        if (exchange.Cascade is { } cascade && cascade.Review(call, deployment, responseBody))
        {
            // The cascade escalates: this answer is paid for and held (served if the escalation fails), nothing is sent.
            engine.Meter(exchange, deployment, usage);
            cascade.Hold(call, deployment, responseBody, usage, upstreamTime);
            return AttemptOutcome.Escalate;
        }
        call.TimeToFirstToken = timer.FirstByte;
        await engine.ServeAnswerAsync(exchange, deployment, responseBody, usage, upstreamTime, ct);
        return AttemptOutcome.Done;
    }

    private async ValueTask<AttemptOutcome> StreamAsync(GatewayExchange<ChatRequest> exchange, RoutableDeployment deployment, HttpResponseMessage response, AttemptTimer timer, CancellationToken ct)
    {
        var (context, call, request) = (exchange.Context, exchange.Call, exchange.Request);
        var translator = deployment.Provider.Adapter.CreateStreamTranslator(request, deployment);
        var filter = exchange.StreamFilter;
        try
        {
            await using var upstream = await response.Content.ReadAsStreamAsync(ct);
            using var sse = deployment.Provider.Adapter.OpenEventReader(upstream);
            var scratch = new ArrayBufferWriter<byte>(4096);
            var recorded = exchange.CacheKey is null ? null : new ArrayBufferWriter<byte>(4096);
            var completed = false;
            var upstreamError = (UpstreamError?)null;
            var refused = (GatewayRejection?)null;

            // Before the first byte goes to the client, a failure can still be retried elsewhere.
            while (true)
            {
                if (!await sse.ReadAsync(timer.FirstByteToken))
                {
                    if (!translator.OnEnd())
                    {
                        return AttemptOutcome.Retry(new UpstreamError(502, "the upstream stream ended before its first event", OpenAIErrors.Api, null, "upstream_error"));
                    }
                    completed = true;
                    break;
                }
                var step = translator.OnEvent(sse.EventType, sse.Data, scratch);
                if (step == StreamStep.Error)
                {
                    return AttemptOutcome.Retry(translator.Error!);
                }
                if (filter is not null && !filter.Apply(scratch))
                {
                    // Refused before anything was sent: an error answer instead of the stream.
                    engine.Meter(exchange, deployment, translator.Usage ?? new TokenUsage(call.EstimatedPromptTokens, tokens.Count(call.Model, translator.CompletionText)));
                    await engine.RefuseAnswerAsync(context, call, filter.Rejection!);
                    return AttemptOutcome.Done;
                }
                if (step == StreamStep.Done)
                {
                    completed = true;
                    break;
                }
                if (scratch.WrittenCount > 0)
                {
                    break;
                }
            }
            timer.FirstByteReceived();
            call.TimeToFirstToken = timer.FirstByte;
            metrics.FirstChunk(deployment.Provider.Name, call.Model, timer.FirstByte.TotalSeconds);

            // Commit: from here on, failures end the stream with an error event.
            call.Status = 200;
            GatewayEngine.SetSuccessHeaders(context, call, timer.Elapsed);
            await GatewayEngine.StartEventStreamAsync(context);
            var output = context.Response.BodyWriter;
            await WriteAsync(output, scratch, recorded, context.RequestAborted);

            while (!completed)
            {
                bool more;
                try
                {
                    more = await sse.ReadAsync(ct);
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException || (ex is OperationCanceledException && !context.RequestAborted.IsCancellationRequested))
                {
                    upstreamError = new UpstreamError(502, ex is OperationCanceledException ? "The upstream stream timed out before completion." : "The upstream connection was lost before the stream completed.", OpenAIErrors.Server, null, "stream_interrupted");
                    break;
                }
                if (!more)
                {
                    if (translator.OnEnd())
                    {
                        completed = true;
                    }
                    else
                    {
                        upstreamError = new UpstreamError(502, "The upstream stream ended before completion.", OpenAIErrors.Server, null, "stream_interrupted");
                    }
                    break;
                }
                var step = translator.OnEvent(sse.EventType, sse.Data, scratch);
                if (filter is not null && !filter.Apply(scratch))
                {
                    refused = filter.Rejection;
                }
                if (scratch.WrittenCount > 0)
                {
                    await WriteAsync(output, scratch, recorded, context.RequestAborted);
                }
                if (refused is not null)
                {
                    break;
                }
                if (step == StreamStep.Done)
                {
                    completed = true;
                }
                else if (step == StreamStep.Error)
                {
                    upstreamError = translator.Error;
                    break;
                }
            }

            if (completed && filter is not null && !filter.Flush(scratch))
            {
                completed = false;
                refused = filter.Rejection;
            }
            var usage = translator.Usage ?? new TokenUsage(call.EstimatedPromptTokens, tokens.Count(call.Model, translator.CompletionText));
            engine.Meter(exchange, deployment, usage);

            if (refused is not null)
            {
                // A stage refused what the answer went on to say: what it held never reaches the client.
                call.Status = refused.Status;
                upstreamError = new UpstreamError(refused.Status, refused.Message, refused.Type, refused.Param, refused.Code);
            }
            if (!completed)
            {
                // Never a silent truncation: an error event and no [DONE].
                if (refused is null)
                {
                    Log.StreamInterrupted(logger, deployment.Id, upstreamError?.Message ?? "unknown");
                    deployment.Health.RecordFailure();
                    call.Status = 502;
                }
                Sse.WriteJson(scratch, upstreamError!, static (w, e) =>
                {
                    w.WriteStartObject();
                    w.WriteStartObject("error"u8);
                    w.WriteString("message"u8, e.Message);
                    w.WriteString("type"u8, e.Type);
                    if (e.Param is null) w.WriteNull("param"u8); else w.WriteString("param"u8, e.Param);
                    if (e.Code is null) w.WriteNull("code"u8); else w.WriteString("code"u8, e.Code);
                    w.WriteEndObject();
                    w.WriteEndObject();
                });
                await engine.AfterAsync(call, context);
                await WriteAsync(output, scratch, null, context.RequestAborted);
                return AttemptOutcome.Done;
            }

            if (request.IncludeUsage && !translator.UsageChunkWritten)
            {
                Sse.WriteJson(scratch, (translator, usage, model: translator.Model.Length > 0 ? translator.Model : deployment.Config.UpstreamModel, cost: call.CostUsd), static (w, s) =>
                {
                    w.WriteStartObject();
                    w.WriteString("id"u8, s.translator.Id);
                    w.WriteString("object"u8, "chat.completion.chunk"u8);
                    w.WriteNumber("created"u8, s.translator.Created > 0 ? s.translator.Created : DateTimeOffset.UtcNow.ToUnixTimeSeconds());
                    w.WriteString("model"u8, s.model);
                    w.WriteStartArray("choices"u8);
                    w.WriteEndArray();
                    UsageJson.Write(w, s.usage, cost: s.cost);
                    w.WriteEndObject();
                });
            }
            await engine.AfterAsync(call, context);
            scratch.Write(Sse.Done);
            await WriteAsync(output, scratch, recorded, context.RequestAborted);

            if (recorded is not null)
            {
                engine.Store(exchange, deployment, recorded.WrittenSpan.ToArray(), stream: true, usage);
            }
            return AttemptOutcome.Done;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested && call.Usage == default)
        {
            // The client went away: bill the prompt the upstream received and what it generated until then.
            engine.Meter(exchange, deployment, translator.Usage ?? new TokenUsage(call.EstimatedPromptTokens, tokens.Count(call.Model, translator.CompletionText)));
            throw;
        }
    }

    private static async ValueTask WriteAsync(System.IO.Pipelines.PipeWriter output, ArrayBufferWriter<byte> scratch, ArrayBufferWriter<byte>? recorded, CancellationToken ct)
    {
        if (scratch.WrittenCount == 0) return;
        recorded?.Write(scratch.WrittenSpan);
        output.Write(scratch.WrittenSpan);
        scratch.ResetWrittenCount();
        await output.FlushAsync(ct);
    }
}
