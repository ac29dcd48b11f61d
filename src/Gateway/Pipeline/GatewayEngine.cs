using System.Collections.ObjectModel;
using System.Diagnostics;
using System.Globalization;
using LlmMarketplace.Gateway.Caching;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Errors;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Streaming;
using LlmMarketplace.Gateway.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>What the engine needs to know of a parsed request, whatever the operation.</summary>
internal readonly record struct RequestShape(string Model, bool Stream, bool IncludeUsage, RouteFilter? Route, JsonElement Root);

/// <summary>
/// The per-API part of a call on the <see cref="GatewayEngine"/>: parse and validate, translate to and from each
/// provider's protocol, count tokens. Everything else (the interceptors' stages, routing, the cache, dispatch with
/// retries, fallback and circuit breakers, metering, headers and spans) is the engine's, the same for every operation.
/// </summary>
internal abstract class GatewayOperation<TRequest> where TRequest : class, IDisposable
{
    /// <summary>The operation's name in metrics, spans and cache keys (<c>chat</c>, <c>embeddings</c>).</summary>
    public abstract string Name { get; }

    /// <summary>The kind of model it needs.</summary>
    public abstract ModelKind Kind { get; }

    /// <summary>Whether the auto-router (and its cascade) choose the deployment of <c>Routing: auto</c> models.</summary>
    public virtual bool AutoRouted => false;

    /// <summary>Whether the interceptors inspect non-streamed answers (<see cref="IGatewayInterceptor.InspectCompletionAsync"/>).</summary>
    public virtual bool InspectsAnswers => false;

    public abstract TRequest? Parse(ReadOnlyMemory<byte> body, out RequestError? error);

    /// <summary>Parses the client's body; an operation whose body is not JSON (multipart audio) reads the content type here.</summary>
    public virtual ValueTask<(TRequest? Request, RequestError? Error)> ParseAsync(HttpContext context, ReadOnlyMemory<byte> body)
    {
        var request = Parse(body, out var error);
        return ValueTask.FromResult((request, error));
    }

    public abstract RequestShape Describe(TRequest request);

    /// <summary>The refusal of a model of another kind.</summary>
    public abstract string WrongKindMessage(string model);

    public abstract int CountPromptTokens(TRequest request, RoutableModel model);

    /// <summary>
    /// The texts people wrote in a request body of this operation (as the call's <see cref="GatewayCall.Request"/> holds
    /// it), for the content stages to scan and rewrite; none by default (audio, for one, is not text).
    /// </summary>
    public virtual IReadOnlyList<PromptText> PromptTexts(JsonElement root) => [];

    /// <summary>Checks that need the model (for example its context window) before the interceptors run; null to go on.</summary>
    public virtual GatewayRejection? Validate(GatewayCall call, TRequest request, RoutableModel model) => null;

    /// <summary>Removes the candidates that cannot serve this request.</summary>
    public virtual void Filter(TRequest request, List<RoutableDeployment> candidates)
    {
    }

    /// <summary>The refusal when no candidate is left.</summary>
    public virtual string NoDeploymentMessage(string model) => $"No deployment of model '{model}' matches the requested route.";

    public abstract HttpRequestMessage CreateUpstreamRequest(RoutableDeployment deployment, TRequest request);

    /// <summary>Reads a successful upstream response, translates it and answers the client (with the engine's helpers).</summary>
    public abstract ValueTask<AttemptOutcome> AnswerAsync(GatewayExchange<TRequest> exchange, RoutableDeployment deployment, HttpResponseMessage response, AttemptTimer timer, CancellationToken cancellationToken);
}

/// <summary>One call on the engine as an operation sees it: the HTTP exchange, the call, the (possibly rewritten) request, the model and the cache entry.</summary>
internal sealed class GatewayExchange<TRequest>(GatewayEngine engine, GatewayOperation<TRequest> operation, HttpContext context, GatewayCall call, TRequest request, RoutableModel model)
    where TRequest : class, IDisposable
{
    public GatewayEngine Engine { get; } = engine;

    public GatewayOperation<TRequest> Operation { get; } = operation;

    public HttpContext Context { get; } = context;

    public GatewayCall Call { get; } = call;

    /// <summary>The request forwarded: the client's, or the interceptors' rewrite of it.</summary>
    public TRequest Request { get; set; } = request;

    public RoutableModel Model { get; } = model;

    /// <summary>The response cache's key for this call; null when the answer is not to be stored.</summary>
    public string? CacheKey { get; set; }

    public TimeSpan CacheTtl { get; set; }

    /// <summary>The semantic cache's lookup for this call (its embedding stores the answer); null when it does not apply.</summary>
    public SemanticLookup? Semantic { get; set; }

    /// <summary>The auto-router's cascade, when it runs one for this call.</summary>
    public Cascade? Cascade { get; set; }

    /// <summary>
    /// What the answer costs beyond its tokens and <c>PerRequest</c>, at the deployment's unit prices (search units, images,
    /// minutes of audio, characters); set by the operation before it meters.
    /// </summary>
    public decimal UnitCostUsd { get; set; }

    /// <summary>The interceptors' filters of a streamed answer's text, when any wants to see it.</summary>
    public ChatStreamFilter? StreamFilter { get; set; }
}

/// <summary>
/// The gateway's one forwarding engine: every operation passes through the same staged pipeline. Read and parse (the
/// operation), then the interceptors' stages in their declared order (caller, policy, limits, content, routing), then
/// routing (route filters, narrowing, the auto-router and its cascade), the response cache, dispatch (retries, fallback,
/// circuit breakers), the operation's answer, and metering: usage and cost on the call, the interceptors' <c>AfterAsync</c>
/// exactly once, metrics, spans, <c>server-timing</c> and the <c>x-gateway-*</c> headers.
/// </summary>
internal sealed class GatewayEngine(
    ModelRegistry registry,
    ResponseCache cache,
    SemanticCache semanticCache,
    UpstreamDispatcher dispatcher,
    GatewayMetrics metrics,
    GatewayInterceptors interceptors,
    IEnumerable<IAutoRouter> autoRouters,
    TimeProvider time,
    IGatewayControl? control = null)
{
    // An array: the per-call loops over it enumerate without allocating.
    private readonly IGatewayInterceptor[] _interceptors = [.. interceptors.Ordered];
    private readonly IAutoRouter? _autoRouter = autoRouters.LastOrDefault();

    public GatewayMetrics Metrics => metrics;

    public TimeProvider Time => time;

    /// <param name="api">The API the client called, as named in usage records (<c>chat</c>, <c>responses</c>, <c>messages</c>, <c>embeddings</c>).</param>
    public async Task HandleAsync<TRequest>(HttpContext context, GatewayOperation<TRequest> operation, string api) where TRequest : class, IDisposable
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
        var (request, parseError) = await operation.ParseAsync(context, body.Memory);
        using var parsed = request;
        if (request is null)
        {
            await OpenAIErrors.InvalidRequestAsync(context, parseError!.Message, parseError.Param, parseError.Code);
            return;
        }
        var shape = operation.Describe(request);
        if (!registry.TryGet(shape.Model, out var model))
        {
            await OpenAIErrors.ModelNotFoundAsync(context, shape.Model);
            return;
        }
        if (model.Config.Kind != operation.Kind)
        {
            await OpenAIErrors.InvalidRequestAsync(context, operation.WrongKindMessage(model.Name), "model", "model_not_supported");
            return;
        }

        using var call = new GatewayCall(requestId, api, model.Name, shape.Stream, context.User, time.GetUtcNow(),
            () => operation.CountPromptTokens(request, model),
            new ReadOnlyDictionary<string, StringValues>(context.Request.Headers),
            operation.PromptTexts);
        call.Request = shape.Root;
        call.Project = call.Header("OpenAI-Project")?.Trim() is { Length: > 0 } project ? project : null;
        // The span's name is built only when someone listens.
        using var activity = GatewayMetrics.ActivitySource.HasListeners() ? GatewayMetrics.ActivitySource.StartActivity(operation.Name + " " + model.Name) : null;
        activity?.SetTag("gen_ai.operation.name", operation.Name);
        activity?.SetTag("gen_ai.request.model", model.Name);
        activity?.SetTag("gateway.request_id", requestId);
        // An error answered anywhere below (refusals, context overflow, upstream failures) is recorded before its first byte leaves,
        // so a client that got an answer always finds its usage record.
        context.Response.OnStarting(static state =>
        {
            var (self, ctx, c, start) = ((GatewayEngine, HttpContext, GatewayCall, long))state;
            if (ctx.Response.StatusCode < 400 || c.AfterRan) return Task.CompletedTask;
            c.Latency = self.Time.GetElapsedTime(start);
            return self.AfterAsync(c, ctx);
        }, (this, context, call, started));
        try
        {
            await RunAsync(new GatewayExchange<TRequest>(this, operation, context, call, request, model), settings);
        }
        finally
        {
            call.Latency = time.GetElapsedTime(started);
            if (call.Status == 0) call.Status = context.Response.StatusCode;
            // Paths that answered without the interceptors (upstream failures, refusals) still close the call for them.
            await AfterAsync(call, context);
            metrics.Duration(operation.Name, call.Provider, model.Name, call.Status, call.Latency.TotalSeconds);
            activity?.SetTag("gen_ai.usage.input_tokens", call.Usage.PromptTokens);
            activity?.SetTag("gen_ai.usage.output_tokens", call.Usage.CompletionTokens);
            activity?.SetTag("http.response.status_code", call.Status);
        }
    }

    private async Task RunAsync<TRequest>(GatewayExchange<TRequest> exchange, GatewaySettings settings) where TRequest : class, IDisposable
    {
        var (context, call, model, operation) = (exchange.Context, exchange.Call, exchange.Model, exchange.Operation);
        if (operation.Validate(call, exchange.Request, model) is { } invalid)
        {
            call.Status = invalid.Status;
            await OpenAIErrors.WriteAsync(context, invalid.Status, invalid.Message, invalid.Type, invalid.Param, invalid.Code);
            return;
        }

        // The interceptors' stages, in their declared order.
        foreach (var interceptor in _interceptors)
        {
            using var stageSpan = GatewayMetrics.ActivitySource.StartActivity(GatewayInterceptors.SpanName(interceptor.Stage));
            if (await interceptor.BeforeAsync(call, context.RequestAborted) is { } rejection)
            {
                stageSpan?.SetTag("gateway.rejected", rejection.Status);
                call.Status = rejection.Status;
                ApplyInterceptorHeaders(context, call);
                await OpenAIErrors.WriteAsync(context, rejection.Status, rejection.Message, rejection.Type, rejection.Param, rejection.Code);
                await AfterAsync(call, context);
                return;
            }
        }

        // A stage may forward a rewritten body (for example with personal data redacted).
        using var rewritten = call.ReplacementBody is { } replacement
            ? operation.Parse(replacement, out var rewriteError) ?? throw new InvalidOperationException($"An interceptor's replacement body is not a valid {operation.Name} request: " + rewriteError!.Message)
            : null;
        if (rewritten is not null) exchange.Request = rewritten;
        var shape = operation.Describe(exchange.Request);

        // Routing: route filters (body, header), the stages' narrowing, what the operation can use, the auto-router.
        var routeHeader = context.Request.Headers["x-gateway-route"].ToString();
        var routingSpan = GatewayMetrics.ActivitySource.StartActivity("gateway.routing");
        var ordered = Router.Order(model, shape.Route, RouteFilter.FromHeader(routeHeader));
        if (call.AllowedDeployments is { } allowed)
        {
            ordered.RemoveAll(d => !Router.MatchesAny(d, allowed));
        }
        operation.Filter(exchange.Request, ordered);
        routingSpan?.SetTag("gateway.candidates", ordered.Count);
        routingSpan?.Dispose();
        if (ordered.Count == 0)
        {
            call.Status = 400;
            await OpenAIErrors.InvalidRequestAsync(context, operation.NoDeploymentMessage(model.Name), "provider", "no_matching_deployment");
            return;
        }
        if (operation.AutoRouted && model.Config.Routing == RoutingMode.Auto && _autoRouter is not null && ordered.Count > 1)
        {
            exchange.Cascade = Cascade.Route(_autoRouter, call, model, ordered, shape.Stream);
        }

        // The exact response cache, within the caller's team: local, then shared (Redis); an alert may switch it per model.
        var cacheEnabled = control?.CacheOverride(model.Name) ?? model.Config.Cache ?? settings.Cache.Enabled;
        var cacheControl = CacheControl.Parse(context.Request.Headers.CacheControl.ToString(), context.Request.Headers["x-gateway-cache-ttl"].ToString());
        if (cacheEnabled && !cacheControl.NoStore)
        {
            exchange.CacheKey = CacheKey.Compute(operation.Name, model.Name, shape.Root, shape.Stream, shape.IncludeUsage, routeHeader, call.Caller.TeamId);
            var cacheSpan = GatewayMetrics.ActivitySource.StartActivity("gateway.cache");
            var hit = cacheControl.NoCache ? null : await cache.GetAsync(exchange.CacheKey);
            cacheSpan?.SetTag("gateway.cache", hit is not null ? "HIT" : "MISS");
            cacheSpan?.Dispose();
            if (hit is not null)
            {
                metrics.Cache("hit");
                call.CacheStatus = "HIT";
                await ServeFromCacheAsync(context, call, hit, null);
                return;
            }

            // Then the semantic cache, where configured: a paraphrase of a cached question within the caller's scope.
            if (!cacheControl.NoCache && semanticCache.Prepare(operation.Name, model, shape, call, routeHeader) is { } lookup)
            {
                exchange.Semantic = lookup;
                var semanticSpan = GatewayMetrics.ActivitySource.StartActivity("gateway.cache.semantic");
                var semanticHit = await semanticCache.LookupAsync(lookup, context.RequestAborted);
                semanticSpan?.SetTag("gateway.cache", semanticHit is not null ? "SEMANTIC-HIT" : "MISS");
                semanticSpan?.Dispose();
                if (semanticHit is not null)
                {
                    metrics.Cache("semantic_hit");
                    call.CacheStatus = "SEMANTIC-HIT";
                    await ServeFromCacheAsync(context, call, semanticHit.Response, semanticHit.Similarity);
                    return;
                }
            }
            metrics.Cache("miss");
            call.CacheStatus = "MISS";
        }
        context.Response.Headers["x-cache"] = call.CacheStatus;
        var ttl = cacheControl.Ttl ?? settings.Cache.DefaultTtl;
        exchange.CacheTtl = ttl > settings.Cache.MaxTtl ? settings.Cache.MaxTtl : ttl;

        // A stream whose text an interceptor filters as it passes.
        if (shape.Stream && operation.InspectsAnswers) exchange.StreamFilter = ChatStreamFilter.For(_interceptors, call);

        // A client protocol's native route (its own request and answer for the deployments that speak it), unless a stage
        // rewrote the request (the rewrite exists only in the operation's form), a cascade must review the answer or a
        // stage filters the stream (the filter reads the chat form).
        var protocol = context.Features.Get<ClientProtocolFeature>();
        var native = call.ReplacementBody is null && exchange.Cascade is null && exchange.StreamFilter is null ? protocol?.Native : null;
        var nativeExchange = native is null ? null : new NativeExchange(this, context, call, operation.Name, exchange.Request, protocol!, operation.InspectsAnswers);

        // Dispatch: retries, fallback and circuit breakers; the operation (or the native route) answers from a successful response.
        await dispatcher.DispatchAsync(context, call, model, ordered, settings,
            deployment => native?.Serves(deployment) == true ? native.CreateRequest(deployment) : operation.CreateUpstreamRequest(deployment, exchange.Request),
            (deployment, response, timer, ct) => native?.Serves(deployment) == true
                ? native.AnswerAsync(nativeExchange!, deployment, response, timer, ct)
                : operation.AnswerAsync(exchange, deployment, response, timer, ct),
            exchange.Cascade is null ? null : () => ServeHeldAsync(exchange));
    }

    /// <summary>A cascade whose every escalation failed serves the answer it held.</summary>
    private async ValueTask<bool> ServeHeldAsync<TRequest>(GatewayExchange<TRequest> exchange) where TRequest : class, IDisposable
    {
        if (exchange.Cascade?.Keep(exchange.Call) is not { } held) return false;
        await ServeAnswerAsync(exchange, held.Deployment, held.Body, held.Usage, held.UpstreamTime, exchange.Context.RequestAborted, tokensCounted: true);
        return true;
    }

    /// <summary>Records an answer's usage and cost on the call; a cascade's escalated-from answer is added (both were paid for).</summary>
    public void Meter<TRequest>(GatewayExchange<TRequest> exchange, RoutableDeployment deployment, TokenUsage usage, bool countTokens = true) where TRequest : class, IDisposable
    {
        var call = exchange.Call;
        Meter(call, exchange.Operation.Name, deployment, usage, countTokens);
        call.CostUsd += exchange.UnitCostUsd;
        call.Usage += exchange.Cascade?.EscalatedUsage ?? default;
        call.CostUsd += exchange.Cascade?.EscalatedCostUsd ?? 0;
    }

    /// <summary>Records one answer's usage and its cost at the deployment's prices (cache reads and writes at theirs) on the call.</summary>
    public void Meter(GatewayCall call, string operation, RoutableDeployment deployment, TokenUsage usage, bool countTokens = true)
    {
        call.Usage = usage;
        call.CostUsd = deployment.Config.Pricing.Cost(usage.PromptTokens, usage.CompletionTokens, usage.CachedTokens, usage.CacheWriteTokens);
        if (countTokens) metrics.Tokens(operation, deployment.Provider.Name, call.Model, usage.PromptTokens, usage.CompletionTokens);
    }

    /// <summary>
    /// Lets the interceptors inspect a non-streamed chat completion: null when one refused it (the refusal is answered and
    /// the call closed), otherwise the body to serve (replaced or not).
    /// </summary>
    public async ValueTask<byte[]?> InspectAsync(HttpContext context, GatewayCall call, byte[] responseBody, CancellationToken ct)
    {
        foreach (var interceptor in _interceptors)
        {
            var inspection = await interceptor.InspectCompletionAsync(call, responseBody, ct);
            if (inspection.Rejection is { } refused)
            {
                await RefuseAnswerAsync(context, call, refused);
                return null;
            }
            if (inspection.ReplacementBody is { } replaced) responseBody = replaced;
        }
        return responseBody;
    }

    /// <summary>Answers an interceptor's refusal of an upstream answer (metered already) instead of it, and closes the call.</summary>
    public async ValueTask RefuseAnswerAsync(HttpContext context, GatewayCall call, GatewayRejection refused)
    {
        call.Status = refused.Status;
        ApplyInterceptorHeaders(context, call);
        await AfterAsync(call, context);
        await OpenAIErrors.WriteAsync(context, refused.Status, refused.Message, refused.Type, refused.Param, refused.Code);
    }

    /// <summary>Meters a non-streamed answer, lets the interceptors inspect it (when the operation wants), answers it and caches it.</summary>
    public async ValueTask ServeAnswerAsync<TRequest>(GatewayExchange<TRequest> exchange, RoutableDeployment deployment, byte[] responseBody, TokenUsage usage, TimeSpan upstreamTime, CancellationToken ct, bool tokensCounted = false)
        where TRequest : class, IDisposable
    {
        var (context, call) = (exchange.Context, exchange.Call);
        Meter(exchange, deployment, usage, countTokens: !tokensCounted);
        if (exchange.Operation.InspectsAnswers)
        {
            if (await InspectAsync(context, call, responseBody, ct) is not { } inspected) return;
            responseBody = inspected;
        }
        await WriteAnswerAsync(context, call, responseBody, upstreamTime);
        Store(exchange, deployment, responseBody, stream: false, usage);
    }

    /// <summary>Answers a metered, inspected JSON body: the success headers, the interceptors' <c>AfterAsync</c>, then the body.</summary>
    public async ValueTask WriteAnswerAsync(HttpContext context, GatewayCall call, byte[] responseBody, TimeSpan upstreamTime)
    {
        call.Status = 200;
        SetSuccessHeaders(context, call, upstreamTime);
        context.Response.Headers["x-gateway-cost"] = call.CostUsd.ToString("0.##########", CultureInfo.InvariantCulture);
        await AfterAsync(call, context);
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = responseBody.Length;
        await context.Response.Body.WriteAsync(responseBody, context.RequestAborted);
    }

    /// <summary>Stores a complete answer (a JSON body or a recorded stream) in the response cache when the call is cacheable.</summary>
    public void Store<TRequest>(GatewayExchange<TRequest> exchange, RoutableDeployment deployment, byte[] body, bool stream, TokenUsage usage) where TRequest : class, IDisposable
    {
        if (exchange.CacheKey is { } key)
        {
            var entry = new CachedResponse(body, stream, deployment.Provider.Name, deployment.Id, usage, time.GetUtcNow() + exchange.CacheTtl);
            cache.Set(key, entry);
            if (exchange.Semantic is { } lookup) semanticCache.Add(lookup, entry);
        }
    }

    /// <param name="similarity">For a semantic hit, how close the cached question was (sent as <c>x-cache-similarity</c>).</param>
    private async Task ServeFromCacheAsync(HttpContext context, GatewayCall call, CachedResponse hit, double? similarity)
    {
        call.Provider = hit.Provider;
        call.Deployment = hit.Deployment;
        call.Usage = hit.Usage;
        call.CostUsd = 0;
        call.Status = 200;
        var headers = context.Response.Headers;
        headers["x-cache"] = call.CacheStatus;
        if (similarity is { } sim) headers["x-cache-similarity"] = sim.ToString("0.0000", CultureInfo.InvariantCulture);
        headers["x-gateway-provider"] = hit.Provider;
        headers["x-gateway-deployment"] = hit.Deployment;
        headers["x-gateway-attempts"] = "0";
        headers["x-gateway-cost"] = "0";
        ApplyInterceptorHeaders(context, call);
        headers["server-timing"] = ServerTiming(context, TimeSpan.Zero);
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

    /// <summary>Commits a streamed answer: 200 with the event-stream headers, unbuffered here and by proxies, the headers sent now.</summary>
    public static Task StartEventStreamAsync(HttpContext context)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["x-accel-buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        return context.Response.StartAsync(context.RequestAborted);
    }

    /// <summary>The <c>x-gateway-*</c> headers of an answer, the interceptors' headers and <c>server-timing</c> (gateway and upstream time).</summary>
    public static void SetSuccessHeaders(HttpContext context, GatewayCall call, TimeSpan upstreamTime)
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
        if (call.ResponseHeaders.Count == 0) return;
        // The concrete dictionary enumerates without allocating (the interface's enumerator is boxed).
        if (call.ResponseHeaders is Dictionary<string, string> headers)
        {
            foreach (var (name, value) in headers) context.Response.Headers[name] = value;
            return;
        }
        foreach (var (name, value) in call.ResponseHeaders) context.Response.Headers[name] = value;
    }

    /// <summary>Runs every interceptor's <c>AfterAsync</c>, in stage order, exactly once per call.</summary>
    public async Task AfterAsync(GatewayCall call, HttpContext context)
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
