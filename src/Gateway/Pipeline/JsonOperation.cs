using System.Globalization;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;

namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>
/// The shape the smaller operations share (rerank, moderations, images, audio): one model kind, deployments only on
/// providers whose protocol has the operation, and answers passed back with the engine's metering and headers.
/// </summary>
internal abstract class JsonOperation<TRequest> : GatewayOperation<TRequest> where TRequest : class, IDisposable
{
    /// <summary>What clients call, for messages (<c>rerank</c>, <c>image generation</c>).</summary>
    protected abstract string What { get; }

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
