using System.Globalization;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>What the engine reads of every request of a <see cref="JsonOperation{TRequest}"/>.</summary>
internal interface IOperationRequest
{
    string Model { get; }

    /// <summary>The gateway's <c>provider</c> routing extension, if the request has one.</summary>
    RouteFilter? Route { get; }

    /// <summary>The request as JSON: what the stages, the usage record and the cache key see of the call.</summary>
    JsonElement Root { get; }
}

/// <summary>An operation's endpoint: handles one call of it on the engine.</summary>
internal interface IOperationEndpoint
{
    Task HandleAsync(HttpContext context);
}

/// <summary>
/// The shape the operations beside chat share (embeddings, rerank, moderations, images, audio): one endpoint on the
/// engine under the operation's name, one model kind, never streamed as chat is, deployments only on providers whose
/// protocol has the operation, and answers passed back with the engine's metering and headers.
/// </summary>
/// <param name="name">The operation's name in metrics, spans, cache keys and usage records.</param>
/// <param name="what">What clients call, for messages (<c>rerank</c>, <c>image generation</c>).</param>
internal abstract class JsonOperation<TRequest>(GatewayEngine engine, string name, ModelKind kind, string what) : GatewayOperation<TRequest>, IOperationEndpoint
    where TRequest : class, IDisposable, IOperationRequest
{
    public Task HandleAsync(HttpContext context) => engine.HandleAsync(context, this, name);

    public sealed override string Name => name;

    public sealed override ModelKind Kind => kind;

    /// <summary>What clients call, for messages (<c>rerank</c>, <c>image generation</c>).</summary>
    protected string What => what;

    public override RequestShape Describe(TRequest request) => new(request.Model, false, false, request.Route, request.Root);

    /// <summary>Reads a whole (not streamed) upstream answer: the first byte is when it starts to arrive, the upstream time when it has.</summary>
    protected static async ValueTask<(byte[] Body, TimeSpan UpstreamTime)> ReadAnswerAsync(HttpResponseMessage response, AttemptTimer timer, CancellationToken cancellationToken)
    {
        timer.FirstByteReceived();
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        return (body, timer.Elapsed);
    }

    public override string WrongKindMessage(string model) =>
        $"The model `{model}` does not support {What}: it is a model of another kind (this endpoint needs Kind: {Kind.ToString().ToLowerInvariant()}).";

    public override void Filter(TRequest request, List<RoutableDeployment> candidates) =>
        candidates.RemoveAll(d => !ProviderKinds.Serves(d.Provider.Config.Type, Kind));

    public override string NoDeploymentMessage(string model) => $"No deployment of model '{model}' can serve {What} (its providers do not offer it, or none matches the requested route).";

    /// <summary>
    /// Answers a metered upstream body as it is (its own content type: JSON, text, subtitles) with the engine's success
    /// headers and cost, after the interceptors closed the call. Not stored in the response cache.
    /// </summary>
    protected static async ValueTask ServeBytesAsync(GatewayExchange<TRequest> exchange, RoutableDeployment deployment, TokenUsage usage, TimeSpan upstreamTime, string contentType, byte[] body)
    {
        await StartAnswerAsync(exchange, deployment, usage, upstreamTime, contentType);
        exchange.Context.Response.ContentLength = body.Length;
        await exchange.Context.Response.Body.WriteAsync(body, exchange.Context.RequestAborted);
    }

    /// <summary>Meters the answer, sets the status, the engine's headers and the content type, and closes the call; the body follows.</summary>
    protected static async ValueTask StartAnswerAsync(GatewayExchange<TRequest> exchange, RoutableDeployment deployment, TokenUsage usage, TimeSpan upstreamTime, string contentType)
    {
        var (context, call, engine) = (exchange.Context, exchange.Call, exchange.Engine);
        engine.Meter(exchange, deployment, usage);
        call.Status = 200;
        GatewayEngine.SetSuccessHeaders(context, call, upstreamTime);
        context.Response.Headers["x-gateway-cost"] = call.CostUsd.ToString("0.##########", CultureInfo.InvariantCulture);
        await engine.AfterAsync(call, context);
        context.Response.StatusCode = 200;
        context.Response.ContentType = contentType;
    }

    /// <summary>The upstream URL of an OpenAI-type deployment's operation (<c>{BaseUrl}/moderations</c>).</summary>
    protected static string OpenAIUrl(RoutableDeployment deployment, string path) => deployment.Provider.BasePath + path;

    /// <summary>Adds the OpenAI-type provider's bearer key and extra headers.</summary>
    protected static void Authorize(HttpRequestMessage message, RoutableDeployment deployment)
    {
        if (deployment.Provider.Config.ApiKey is { Length: > 0 } key)
        {
            message.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
        }
        foreach (var (name, value) in deployment.Provider.Config.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }
    }

    /// <summary>A model's upstream request body: the client's JSON with the upstream model and without the gateway's <c>provider</c> extension.</summary>
    protected static HttpRequestMessage OpenAIJson(RoutableDeployment deployment, string path, System.Text.Json.JsonElement root)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, OpenAIUrl(deployment, path))
        {
            Content = new ByteArrayContent(OpenAIAdapter.RewriteBody(root, deployment.Config.UpstreamModel, stream: false)),
            Version = System.Net.HttpVersion.Version11,
        };
        message.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        Authorize(message, deployment);
        return message;
    }

    /// <summary>The upstream's content type, or <paramref name="fallback"/>.</summary>
    protected static string ContentTypeOf(HttpResponseMessage response, string fallback) => response.Content.Headers.ContentType?.ToString() is { Length: > 0 } type ? type : fallback;

}
