using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Security.Claims;
using LlmMarketplace.Gateway.Caching;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Errors;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Streaming;
using LlmMarketplace.Gateway.Telemetry;
using LlmMarketplace.Gateway.Tokens;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace LlmMarketplace.Gateway.ChatCompletions;

/// <summary><c>POST /v1/chat/completions</c>: parse, admit, cache, route, translate, stream, meter.</summary>
internal sealed class ChatCompletionsHandler(
    ModelRegistry registry,
    ResponseCache cache,
    TokenCounter tokens,
    UpstreamDispatcher dispatcher,
    GatewayMetrics metrics,
    GatewayInterceptors interceptors,
    IEnumerable<IAutoRouter> autoRouters,
    TimeProvider time,
    ILogger<ChatCompletionsHandler> logger,
    IGatewayControl? control = null)
{
    private readonly IReadOnlyList<IGatewayInterceptor> _interceptors = interceptors.Ordered;
    private readonly IAutoRouter? _autoRouter = autoRouters.LastOrDefault();

    /// <param name="operation">The API the client called (<c>chat</c>, or <c>responses</c> / <c>messages</c> for a client protocol on top of chat), as named in usage records.</param>
    public async Task HandleAsync(HttpContext context, string operation = "chat")
    {
        var started = time.GetTimestamp();
        var requestId = RequestId.Get(context);
        context.Response.Headers[RequestId.HeaderName] = requestId;
        var settings = registry.Settings;

        using var body = await RequestBody.ReadAsync(context, settings.MaxRequestBodyBytes);
        if (body is null)
        {
            await OpenAIErrors.WriteAsync(context, StatusCodes.Status413PayloadTooLarge,
                $"Request body too large: the limit is {settings.MaxRequestBodyBytes} bytes.", OpenAIErrors.InvalidRequest, null, "request_too_large");
            return;
        }
        using var request = ChatRequest.Parse(body.Memory, out var parseError);
        if (request is null)
        {
            await OpenAIErrors.InvalidRequestAsync(context, parseError!.Message, parseError.Param, parseError.Code);
            return;
        }
        if (!registry.TryGet(request.Model, out var model))
        {
            await OpenAIErrors.ModelNotFoundAsync(context, request.Model);
            return;
        }
        if (model.Config.Kind != ModelKind.Chat)
        {
            await OpenAIErrors.InvalidRequestAsync(context, $"The model `{model.Name}` is an embedding model and does not support chat completions.", "model", "model_not_supported");
            return;
        }

        using var call = new GatewayCall(requestId, operation, model.Name, request.Stream, context.User, time.GetUtcNow(),
            () => tokens.CountChatPrompt(model.Name, request.Messages, request.TryGet("tools", out var t) ? t : null),
            new System.Collections.ObjectModel.ReadOnlyDictionary<string, Microsoft.Extensions.Primitives.StringValues>(context.Request.Headers));
        call.Request = request.Root;
        call.Project = ProjectHeader(context);
        using var activity = GatewayMetrics.ActivitySource.StartActivity("chat " + model.Name);
        activity?.SetTag("gen_ai.operation.name", "chat");
        activity?.SetTag("gen_ai.request.model", model.Name);
        activity?.SetTag("gateway.request_id", requestId);
        // An error answered anywhere below (refusals, context overflow, upstream failures) is recorded before its first byte leaves,
        // so a client that got an answer always finds its usage record.
        context.Response.OnStarting(static state =>
        {
            var (self, ctx, c, start, clock) = ((ChatCompletionsHandler, HttpContext, GatewayCall, long, TimeProvider))state;
            if (ctx.Response.StatusCode < 400 || c.AfterRan) return Task.CompletedTask;
            c.Latency = clock.GetElapsedTime(start);
            return self.AfterAsync(c, ctx);
        }, (this, context, call, started, time));
        try
        {
            await RunAsync(context, request, model, call, settings);
        }
        finally
        {
            call.Latency = time.GetElapsedTime(started);
            if (call.Status == 0) call.Status = context.Response.StatusCode;
            // Paths that answered without the interceptors (upstream failures, refusals) still close the call for them.
            await AfterAsync(call, context);
            metrics.Duration("chat", call.Provider, model.Name, call.Status, call.Latency.TotalSeconds);
            activity?.SetTag("gen_ai.usage.input_tokens", call.Usage.PromptTokens);
            activity?.SetTag("gen_ai.usage.output_tokens", call.Usage.CompletionTokens);
            activity?.SetTag("http.response.status_code", call.Status);
        }
    }

    private async Task RunAsync(HttpContext context, ChatRequest request, RoutableModel model, GatewayCall call, GatewaySettings settings)
    {
        if (model.Config.ContextWindow is { } window)
        {
            var maxOut = request.TryGet("max_completion_tokens", out var mct) ? mct.GetInt64() : request.TryGet("max_tokens", out var mt) ? mt.GetInt64() : 0;
            var prompt = call.EstimatedPromptTokens;
            if (prompt + maxOut > window)
            {
                call.Status = 400;
                await OpenAIErrors.InvalidRequestAsync(context,
                    $"This model's maximum context length is {window} tokens. However, you requested {prompt + maxOut} tokens ({prompt} in the messages, {maxOut} in the completion). Please reduce the length of the messages or completion.",
                    "messages", "context_length_exceeded");
                return;
            }
        }

        foreach (var interceptor in _interceptors)
        {
            using var interceptorSpan = GatewayMetrics.ActivitySource.StartActivity(GatewayInterceptors.SpanName(interceptor.Stage));
            if (await interceptor.BeforeAsync(call, context.RequestAborted) is { } rejection)
            {
                interceptorSpan?.SetTag("gateway.rejected", rejection.Status);
                call.Status = rejection.Status;
                ApplyInterceptorHeaders(context, call);
                await OpenAIErrors.WriteAsync(context, rejection.Status, rejection.Message, rejection.Type, rejection.Param, rejection.Code);
                await AfterAsync(call, context);
                return;
            }
        }

        // An interceptor may forward a rewritten body (for example with personal data redacted).
        using var rewritten = call.ReplacementBody is { } replacement
            ? ChatRequest.Parse(replacement, out var rewriteError) ?? throw new InvalidOperationException("An interceptor's replacement body is not a valid chat request: " + rewriteError!.Message)
            : null;
        if (rewritten is not null) request = rewritten;

        var routingSpan = GatewayMetrics.ActivitySource.StartActivity("gateway.routing");
        var headerRoute = RouteFilter.FromHeader(context.Request.Headers["x-gateway-route"].ToString());
        var ordered = Router.Order(model, request.Route, headerRoute);
        if (call.AllowedDeployments is { } allowed)
        {
            ordered.RemoveAll(d => !Router.MatchesAny(d, allowed));
        }
        routingSpan?.SetTag("gateway.candidates", ordered.Count);
        routingSpan?.Dispose();
        if (ordered.Count == 0)
        {
            call.Status = 400;
            await OpenAIErrors.InvalidRequestAsync(context, $"No deployment of model '{model.Name}' matches the requested route.", "provider", "no_matching_deployment");
            return;
        }
        if (model.Config.Routing == RoutingMode.Auto && _autoRouter is not null && ordered.Count > 1)
        {
            AutoRoute(call, model, ordered, request.Stream);
        }
        var held = call.EscalateTo is null ? null : new HeldAnswer();

        var cacheEnabled = control?.CacheOverride(model.Name) ?? model.Config.Cache ?? settings.Cache.Enabled;
        var cacheControl = CacheControl.Parse(context.Request.Headers.CacheControl.ToString(), context.Request.Headers["x-gateway-cache-ttl"].ToString());
        string? cacheKey = null;
        if (cacheEnabled && !cacheControl.NoStore)
        {
            cacheKey = CacheKey.Compute("chat", model.Name, request.Root, request.Stream, request.IncludeUsage, context.Request.Headers["x-gateway-route"].ToString());
            var cacheSpan = GatewayMetrics.ActivitySource.StartActivity("gateway.cache");
            var hit = cacheControl.NoCache ? null : await cache.GetAsync(cacheKey);
            cacheSpan?.SetTag("gateway.cache", hit is not null ? "HIT" : "MISS");
            cacheSpan?.Dispose();
            if (hit is not null)
            {
                metrics.Cache("hit");
                call.CacheStatus = "HIT";
                await ServeFromCacheAsync(context, call, hit!);
                return;
            }
            metrics.Cache("miss");
            call.CacheStatus = "MISS";
        }
        context.Response.Headers["x-cache"] = call.CacheStatus;

        var ttl = cacheControl.Ttl ?? settings.Cache.DefaultTtl;
        if (ttl > settings.Cache.MaxTtl) ttl = settings.Cache.MaxTtl;

        await dispatcher.DispatchAsync(context, call, model, ordered, settings,
            deployment => deployment.Provider.Adapter.CreateChatRequest(deployment, request),
            (deployment, response, timer, ct) => request.Stream
                ? StreamAsync(context, call, request, deployment, response, timer, cacheKey, ttl, ct)
                : CompleteAsync(context, call, request, deployment, response, timer, cacheKey, ttl, held, ct),
            held is null ? null : () => ServeHeldAsync(context, call, held, cacheKey, ttl));
    }

    /// <summary>The answer a cascade escalated from, served when every deployment it escalated to failed.</summary>
    private sealed class HeldAnswer
    {
        public RoutableDeployment? Deployment { get; set; }

        public byte[] Body { get; set; } = [];

        public TokenUsage Usage { get; set; }

        public TimeSpan UpstreamTime { get; set; }
    }

    private async ValueTask<bool> ServeHeldAsync(HttpContext context, GatewayCall call, HeldAnswer held, string? cacheKey, TimeSpan ttl)
    {
        if (held.Deployment is not { } deployment) return false;
        call.Provider = deployment.Provider.Name;
        call.Deployment = deployment.Id;
        call.UpstreamModel = deployment.Config.UpstreamModel;
        call.EscalatedUsage = default;
        call.EscalatedCostUsd = 0;
        call.EscalatedFrom = null;
        call.ResponseHeaders[AutoRouteDecision.CascadeHeader] = "kept";
        call.ResponseHeaders[AutoRouteDecision.ReasonHeader] = Sanitize($"cascade: kept the answer of {deployment.Id}; escalation to {call.EscalateTo} failed");
        await ServeCompletionAsync(context, call, deployment, held.Body, held.Usage, held.UpstreamTime, cacheKey, ttl, context.RequestAborted, tokensCounted: true);
        return true;
    }

    private async ValueTask<AttemptOutcome> CompleteAsync(HttpContext context, GatewayCall call, ChatRequest request, RoutableDeployment deployment, HttpResponseMessage response, AttemptTimer timer, string? cacheKey, TimeSpan ttl, HeldAnswer? held, CancellationToken ct)
    {
        timer.FirstByteReceived();
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        var upstreamTime = timer.Elapsed;
        var answer = deployment.Provider.Adapter.ReadChatResponse(bytes, request, deployment);
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
        if (held is not null && Review(call, deployment, responseBody))
        {
            // The cascade escalates: this answer is paid for and held (served if the escalation fails), nothing is sent.
            Meter(call, deployment, usage);
            call.EscalatedUsage = call.Usage;
            call.EscalatedCostUsd = call.CostUsd;
            call.EscalatedFrom = deployment.Id;
            held.Deployment = deployment;
            held.Body = responseBody;
            held.Usage = usage;
            held.UpstreamTime = upstreamTime;
            return AttemptOutcome.Escalate;
        }
        call.TimeToFirstToken = timer.FirstByte;
        await ServeCompletionAsync(context, call, deployment, responseBody, usage, upstreamTime, cacheKey, ttl, ct);
        return AttemptOutcome.Done;
    }

    /// <summary>
    /// Shows a cascaded call's answer to the auto-router: true when the first deployment's answer is to be escalated.
    /// The answer of the deployment escalated to is shown for learning and always kept.
    /// </summary>
    private bool Review(GatewayCall call, RoutableDeployment deployment, byte[] body)
    {
        if (call.EscalateTo is null) return false;
        var (text, finish) = ReadAnswer(body);
        if (call.EscalatedFrom is not null)
        {
            _autoRouter!.Review(call, deployment.Id, text, finish);
            return false;
        }
        if (string.Equals(deployment.Id, call.EscalateTo, StringComparison.Ordinal)) return false;
        var verdict = _autoRouter!.Review(call, deployment.Id, text, finish);
        if (verdict.Reason is { } reason) call.ResponseHeaders[AutoRouteDecision.ReasonHeader] = Sanitize(reason);
        call.ResponseHeaders[AutoRouteDecision.CascadeHeader] = verdict.Escalate ? "escalated" : "kept";
        return verdict.Escalate;
    }

    /// <summary>The text and <c>choices[0].finish_reason</c> of an OpenAI chat completion (empty and null when unreadable).</summary>
    private static (string Text, string? FinishReason) ReadAnswer(byte[] body)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(body);
            var root = doc.RootElement;
            var finish = root.TryGetProperty("choices", out var choices) && choices.ValueKind == System.Text.Json.JsonValueKind.Array &&
                   choices.GetArrayLength() > 0 && choices[0].ValueKind == System.Text.Json.JsonValueKind.Object &&
                   choices[0].TryGetProperty("finish_reason", out var reason) && reason.ValueKind == System.Text.Json.JsonValueKind.String
                ? reason.GetString()
                : null;
            return (OpenAIAdapter.CompletionTextOf(root), finish);
        }
        catch (System.Text.Json.JsonException)
        {
            return ("", null);
        }
    }

    /// <summary>Meters a non-streamed answer, lets the interceptors inspect it, answers it and caches it.</summary>
    private async ValueTask ServeCompletionAsync(HttpContext context, GatewayCall call, RoutableDeployment deployment, byte[] responseBody, TokenUsage usage, TimeSpan upstreamTime, string? cacheKey, TimeSpan ttl, CancellationToken ct, bool tokensCounted = false)
    {
        Meter(call, deployment, usage, countTokens: !tokensCounted);
        foreach (var interceptor in _interceptors)
        {
            var inspection = await interceptor.InspectCompletionAsync(call, responseBody, ct);
            if (inspection.Rejection is { } refused)
            {
                call.Status = refused.Status;
                ApplyInterceptorHeaders(context, call);
                await AfterAsync(call, context);
                await OpenAIErrors.WriteAsync(context, refused.Status, refused.Message, refused.Type, refused.Param, refused.Code);
                return;
            }
            if (inspection.ReplacementBody is { } replaced) responseBody = replaced;
        }
        call.Status = 200;

        SetSuccessHeaders(context, call, upstreamTime);
        context.Response.Headers["x-gateway-cost"] = call.CostUsd.ToString("0.##########", CultureInfo.InvariantCulture);
        await AfterAsync(call, context);
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = responseBody.Length;
        await context.Response.Body.WriteAsync(responseBody, context.RequestAborted);

        if (cacheKey is not null)
        {
            cache.Set(cacheKey, new CachedResponse(responseBody, false, deployment.Provider.Name, deployment.Id, usage, time.GetUtcNow() + ttl));
        }
    }

    private async ValueTask<AttemptOutcome> StreamAsync(HttpContext context, GatewayCall call, ChatRequest request, RoutableDeployment deployment, HttpResponseMessage response, AttemptTimer timer, string? cacheKey, TimeSpan ttl, CancellationToken ct)
    {
        var translator = deployment.Provider.Adapter.CreateStreamTranslator(request, deployment);
        try
        {
            await using var upstream = await response.Content.ReadAsStreamAsync(ct);
            using var sse = new SseReader(upstream);
            var scratch = new ArrayBufferWriter<byte>(4096);
            var recorded = cacheKey is null ? null : new ArrayBufferWriter<byte>(4096);
            var completed = false;
            var upstreamError = (UpstreamError?)null;

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
            SetSuccessHeaders(context, call, timer.Elapsed);
            context.Response.StatusCode = 200;
            context.Response.ContentType = "text/event-stream; charset=utf-8";
            context.Response.Headers.CacheControl = "no-cache";
            context.Response.Headers["x-accel-buffering"] = "no";
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            await context.Response.StartAsync(context.RequestAborted);
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
                if (scratch.WrittenCount > 0)
                {
                    await WriteAsync(output, scratch, recorded, context.RequestAborted);
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

            var usage = translator.Usage ?? new TokenUsage(call.EstimatedPromptTokens, tokens.Count(call.Model, translator.CompletionText));
            Meter(call, deployment, usage);

            if (!completed)
            {
                // Never a silent truncation: an error event and no [DONE].
                Log.StreamInterrupted(logger, deployment.Id, upstreamError?.Message ?? "unknown");
                deployment.Health.RecordFailure();
                call.Status = 502;
                Sse.WriteJson(scratch, upstreamError!, static (w, e) =>
                {
                    w.WriteStartObject();
                    w.WriteStartObject("error"u8);
                    w.WriteString("message"u8, e.Message);
                    w.WriteString("type"u8, e.Type);
                    w.WriteNull("param"u8);
                    if (e.Code is null) w.WriteNull("code"u8); else w.WriteString("code"u8, e.Code);
                    w.WriteEndObject();
                    w.WriteEndObject();
                });
                await AfterAsync(call, context);
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
            await AfterAsync(call, context);
            scratch.Write(Sse.Done);
            await WriteAsync(output, scratch, recorded, context.RequestAborted);

            if (cacheKey is not null && recorded is not null)
            {
                cache.Set(cacheKey, new CachedResponse(recorded.WrittenSpan.ToArray(), true, deployment.Provider.Name, deployment.Id, usage, time.GetUtcNow() + ttl));
            }
            return AttemptOutcome.Done;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested && call.Usage == default)
        {
            // The client went away: bill the prompt the upstream received and what it generated until then.
            Meter(call, deployment, translator.Usage ?? new TokenUsage(call.EstimatedPromptTokens, tokens.Count(call.Model, translator.CompletionText)));
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

    private async Task ServeFromCacheAsync(HttpContext context, GatewayCall call, CachedResponse hit)
    {
        call.Provider = hit.Provider;
        call.Deployment = hit.Deployment;
        call.Usage = hit.Usage;
        call.CostUsd = 0;
        call.Status = 200;
        var headers = context.Response.Headers;
        headers["x-cache"] = "HIT";
        headers["x-gateway-provider"] = hit.Provider;
        headers["x-gateway-deployment"] = hit.Deployment;
        headers["x-gateway-attempts"] = "0";
        headers["x-gateway-cost"] = "0";
        await AfterAsync(call, context);
        context.Response.StatusCode = 200;
        if (hit.Stream)
        {
            context.Response.ContentType = "text/event-stream; charset=utf-8";
            headers.CacheControl = "no-cache";
        }
        else
        {
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = hit.Body.Length;
        }
        await context.Response.Body.WriteAsync(hit.Body, context.RequestAborted);
    }

    /// <summary>
    /// Puts the auto-router's choice first (the others stay behind it, cheapest first, as fallbacks) and names the reason;
    /// a cascade (not streamed) puts the deployment it may escalate to second.
    /// </summary>
    private void AutoRoute(GatewayCall call, RoutableModel model, List<RoutableDeployment> ordered, bool stream)
    {
        var decision = _autoRouter!.Choose(call, model.Config, ordered.Select(static d => d.Config).ToList());
        MoveTo(ordered, decision.DeploymentId, 0);
        if (!stream && decision.EscalateTo is { } escalateTo && !string.Equals(escalateTo, decision.DeploymentId, StringComparison.Ordinal) &&
            MoveTo(ordered, escalateTo, 1))
        {
            call.EscalateTo = escalateTo;
        }
        call.ResponseHeaders[AutoRouteDecision.ReasonHeader] = decision.Reason;

        static bool MoveTo(List<RoutableDeployment> ordered, string id, int position)
        {
            var index = ordered.FindIndex(d => string.Equals(d.Id, id, StringComparison.Ordinal));
            if (index < 0) return false;
            var deployment = ordered[index];
            ordered.RemoveAt(index);
            ordered.Insert(Math.Min(position, ordered.Count), deployment);
            return true;
        }
    }

    /// <summary>Header values are ASCII without control characters.</summary>
    private static string Sanitize(string value) =>
        string.Create(value.Length, value, static (span, v) =>
        {
            for (var i = 0; i < v.Length; i++) span[i] = v[i] is >= ' ' and <= '~' ? v[i] : '?';
        });

    /// <summary>The <c>OpenAI-Project</c> header (sent by OpenAI's SDKs when a project is set), trimmed; null when absent.</summary>
    internal static string? ProjectHeader(HttpContext context) =>
        context.Request.Headers["OpenAI-Project"].ToString().Trim() is { Length: > 0 } project ? project : null;

    /// <summary>Records an answer's usage and cost on the call; a cascade's escalated-from answer is added (both were paid for).</summary>
    private void Meter(GatewayCall call, RoutableDeployment deployment, TokenUsage usage, bool countTokens = true)
    {
        call.Usage = usage + call.EscalatedUsage;
        call.CostUsd = deployment.Config.Pricing.Cost(usage.PromptTokens, usage.CompletionTokens, usage.CachedTokens, usage.CacheWriteTokens) + call.EscalatedCostUsd;
        if (countTokens) metrics.Tokens("chat", deployment.Provider.Name, call.Model, usage.PromptTokens, usage.CompletionTokens);
    }

    private void SetSuccessHeaders(HttpContext context, GatewayCall call, TimeSpan upstreamTime)
    {
        var headers = context.Response.Headers;
        headers["x-gateway-provider"] = call.Provider;
        headers["x-gateway-deployment"] = call.Deployment;
        headers["x-gateway-attempts"] = call.Attempts.ToString(CultureInfo.InvariantCulture);
        ApplyInterceptorHeaders(context, call);
        headers["server-timing"] = ServerTiming(context, upstreamTime);
    }

    private static string ServerTiming(HttpContext context, TimeSpan upstreamTime)
    {
        var sinceStart = context.Items.TryGetValue(GatewayTiming.ItemKey, out var s) && s is long start
            ? Stopwatch.GetElapsedTime(start)
            : upstreamTime;
        var gateway = sinceStart - upstreamTime;
        if (gateway < TimeSpan.Zero) gateway = TimeSpan.Zero;
        return $"gateway;dur={AttemptTimer.Format(gateway)}, upstream;dur={AttemptTimer.Format(upstreamTime)}";
    }

    private static void ApplyInterceptorHeaders(HttpContext context, GatewayCall call)
    {
        foreach (var (name, value) in call.ResponseHeaders)
        {
            context.Response.Headers[name] = value;
        }
    }

    private async Task AfterAsync(GatewayCall call, HttpContext context)
    {
        if (call.AfterRan) return;
        call.AfterRan = true;
        if (call.Status == 0) call.Status = context.Response.StatusCode;
        foreach (var interceptor in _interceptors)
        {
            await interceptor.AfterAsync(call, CancellationToken.None);
        }
    }
}

/// <summary>Marks when the gateway first saw a request, for <c>server-timing</c>.</summary>
public static class GatewayTiming
{
    public const string ItemKey = "llmm.gateway.start";
}

/// <summary>Per-request cache control: <c>Cache-Control: no-cache</c> (skip lookup), <c>no-store</c> (skip entirely), <c>max-age=N</c> or <c>x-gateway-cache-ttl: N</c> (TTL in seconds).</summary>
internal readonly record struct CacheControl(bool NoCache, bool NoStore, TimeSpan? Ttl)
{
    public static CacheControl Parse(string header, string ttlHeader)
    {
        bool noCache = false, noStore = false;
        TimeSpan? ttl = null;
        foreach (var raw in header.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (raw.Equals("no-cache", StringComparison.OrdinalIgnoreCase)) noCache = true;
            else if (raw.Equals("no-store", StringComparison.OrdinalIgnoreCase)) noStore = true;
            else if (raw.StartsWith("max-age=", StringComparison.OrdinalIgnoreCase) &&
                     int.TryParse(raw.AsSpan(8), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0)
            {
                ttl = TimeSpan.FromSeconds(seconds);
            }
        }
        if (int.TryParse(ttlHeader, NumberStyles.Integer, CultureInfo.InvariantCulture, out var t) && t >= 0)
        {
            ttl = TimeSpan.FromSeconds(t);
        }
        if (ttl == TimeSpan.Zero) noStore = true;
        return new CacheControl(noCache, noStore, ttl);
    }
}
