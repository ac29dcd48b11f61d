using System.Globalization;
using LlmMarketplace.Gateway.Caching;
using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Errors;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Telemetry;
using LlmMarketplace.Gateway.Tokens;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Gateway.Embeddings;

/// <summary><c>POST /v1/embeddings</c>: string or array input, <c>encoding_format</c> float or base64.</summary>
internal sealed class EmbeddingsHandler(
    ModelRegistry registry,
    ResponseCache cache,
    TokenCounter tokens,
    UpstreamDispatcher dispatcher,
    GatewayMetrics metrics,
    GatewayInterceptors interceptors,
    TimeProvider time)
{
    private readonly IReadOnlyList<IGatewayInterceptor> _interceptors = interceptors.Ordered;

    public async Task HandleAsync(HttpContext context)
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
        using var request = EmbeddingsRequest.Parse(body.Memory, out var parseError);
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
        if (model.Config.Kind != ModelKind.Embedding)
        {
            await OpenAIErrors.InvalidRequestAsync(context, $"The model `{model.Name}` does not support embeddings.", "model", "model_not_supported");
            return;
        }

        using var call = new GatewayCall(requestId, "embeddings", model.Name, false, context.User, time.GetUtcNow(),
            () => tokens.CountEmbeddingInput(model.Name, request.Texts, request.Root.GetProperty("input")),
            new System.Collections.ObjectModel.ReadOnlyDictionary<string, Microsoft.Extensions.Primitives.StringValues>(context.Request.Headers));
        call.Request = request.Root;
        call.Project = ChatCompletions.ChatCompletionsHandler.ProjectHeader(context);
        // An error answered anywhere below (refusals, context overflow, upstream failures) is recorded before its first byte leaves,
        // so a client that got an answer always finds its usage record.
        context.Response.OnStarting(static state =>
        {
            var (self, ctx, c, start, clock) = ((EmbeddingsHandler, HttpContext, GatewayCall, long, TimeProvider))state;
            if (ctx.Response.StatusCode < 400 || c.AfterRan) return Task.CompletedTask;
            c.Latency = clock.GetElapsedTime(start);
            return self.AfterStartingAsync(c, ctx);
        }, (this, context, call, started, time));
        try
        {
            await RunAsync(context, request, model, call, settings);
        }
        finally
        {
            call.Latency = time.GetElapsedTime(started);
            if (call.Status == 0) call.Status = context.Response.StatusCode;
            await AfterAsync(call);
            metrics.Duration("embeddings", call.Provider, model.Name, call.Status, call.Latency.TotalSeconds);
        }
    }

    private async Task RunAsync(HttpContext context, EmbeddingsRequest request, RoutableModel model, GatewayCall call, GatewaySettings settings)
    {
        foreach (var interceptor in _interceptors)
        {
            if (await interceptor.BeforeAsync(call, context.RequestAborted) is { } rejection)
            {
                call.Status = rejection.Status;
                foreach (var (name, value) in call.ResponseHeaders) context.Response.Headers[name] = value;
                await OpenAIErrors.WriteAsync(context, rejection.Status, rejection.Message, rejection.Type, rejection.Param, rejection.Code);
                await AfterAsync(call);
                return;
            }
        }

        // An interceptor may forward a rewritten body (for example with personal data redacted).
        using var rewritten = call.ReplacementBody is { } replacement
            ? EmbeddingsRequest.Parse(replacement, out var rewriteError) ?? throw new InvalidOperationException("An interceptor's replacement body is not a valid embeddings request: " + rewriteError!.Message)
            : null;
        if (rewritten is not null) request = rewritten;

        var headerRoute = RouteFilter.FromHeader(context.Request.Headers["x-gateway-route"].ToString());
        var ordered = Router.Order(model, request.Route, headerRoute);
        if (call.AllowedDeployments is { } allowed)
        {
            ordered.RemoveAll(d => !Router.MatchesAny(d, allowed));
        }
        if (request.Texts is null)
        {
            ordered.RemoveAll(static d => d.Provider.Config.Type == ProviderType.Gemini);
        }
        if (ordered.Count == 0)
        {
            call.Status = 400;
            await OpenAIErrors.InvalidRequestAsync(context, $"No deployment of model '{model.Name}' can serve this request.", "provider", "no_matching_deployment");
            return;
        }

        var cacheEnabled = model.Config.Cache ?? settings.Cache.Enabled;
        var cacheControl = CacheControl.Parse(context.Request.Headers.CacheControl.ToString(), context.Request.Headers["x-gateway-cache-ttl"].ToString());
        string? cacheKey = null;
        if (cacheEnabled && !cacheControl.NoStore)
        {
            cacheKey = CacheKey.Compute("embeddings", model.Name, request.Root, false, false, context.Request.Headers["x-gateway-route"].ToString());
            if (!cacheControl.NoCache && cache.TryGet(cacheKey, out var hit))
            {
                metrics.Cache("hit");
                call.CacheStatus = "HIT";
                call.Provider = hit.Provider;
                call.Deployment = hit.Deployment;
                call.Usage = hit.Usage;
                call.Status = 200;
                var h = context.Response.Headers;
                h["x-cache"] = "HIT";
                h["x-gateway-provider"] = hit.Provider;
                h["x-gateway-deployment"] = hit.Deployment;
                h["x-gateway-attempts"] = "0";
                h["x-gateway-cost"] = "0";
                await AfterAsync(call);
                context.Response.ContentType = "application/json";
                context.Response.ContentLength = hit.Body.Length;
                await context.Response.Body.WriteAsync(hit.Body, context.RequestAborted);
                return;
            }
            metrics.Cache("miss");
            call.CacheStatus = "MISS";
        }
        context.Response.Headers["x-cache"] = call.CacheStatus;
        var ttl = cacheControl.Ttl ?? settings.Cache.DefaultTtl;
        if (ttl > settings.Cache.MaxTtl) ttl = settings.Cache.MaxTtl;

        await dispatcher.DispatchAsync(context, call, model, ordered, settings,
            deployment => deployment.Provider.Adapter.CreateEmbeddingsRequest(deployment, request),
            async (deployment, response, timer, ct) =>
            {
                timer.FirstByteReceived();
                var bytes = await response.Content.ReadAsByteArrayAsync(ct);
                var answer = deployment.Provider.Adapter.ReadEmbeddingsResponse(bytes, request, deployment);
                var responseBody = answer.Body;
                var usage = answer.Usage ?? new TokenUsage(call.EstimatedPromptTokens, 0);
                if (answer.Usage is null)
                {
                    responseBody = UsageJson.WithUsage(responseBody, usage, embeddings: true);
                }
                call.Usage = usage;
                call.CostUsd = deployment.Config.Pricing.Cost(usage.PromptTokens, 0, 0);
                call.Status = 200;
                metrics.Tokens("embeddings", deployment.Provider.Name, call.Model, usage.PromptTokens, 0);
                var h = context.Response.Headers;
                h["x-gateway-provider"] = call.Provider;
                h["x-gateway-deployment"] = call.Deployment;
                h["x-gateway-attempts"] = call.Attempts.ToString(CultureInfo.InvariantCulture);
                h["x-gateway-cost"] = call.CostUsd.ToString("0.##########", CultureInfo.InvariantCulture);
                foreach (var (name, value) in call.ResponseHeaders) h[name] = value;
                await AfterAsync(call);
                context.Response.StatusCode = 200;
                context.Response.ContentType = "application/json";
                context.Response.ContentLength = responseBody.Length;
                await context.Response.Body.WriteAsync(responseBody, context.RequestAborted);
                if (cacheKey is not null)
                {
                    cache.Set(cacheKey, new CachedResponse(responseBody, false, deployment.Provider.Name, deployment.Id, usage, time.GetUtcNow() + ttl));
                }
                return AttemptOutcome.Done;
            });
    }

    private Task AfterStartingAsync(GatewayCall call, HttpContext context)
    {
        if (call.Status == 0) call.Status = context.Response.StatusCode;
        return AfterAsync(call);
    }

    private async Task AfterAsync(GatewayCall call)
    {
        if (call.AfterRan) return;
        call.AfterRan = true;
        foreach (var interceptor in _interceptors)
        {
            await interceptor.AfterAsync(call, CancellationToken.None);
        }
    }
}
