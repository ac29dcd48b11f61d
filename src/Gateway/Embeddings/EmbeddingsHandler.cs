using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Tokens;

namespace LlmMarketplace.Gateway.Embeddings;

/// <summary>
/// <c>POST /v1/embeddings</c>, the embeddings operation on the <see cref="GatewayEngine"/>: string or array input,
/// <c>encoding_format</c> float or base64, translated to each provider and back. The pipeline around it (stages, routing,
/// the shared cache, dispatch, metering, headers and spans) is the engine's, as for chat.
/// </summary>
internal sealed class EmbeddingsHandler(GatewayEngine engine, TokenCounter tokens) : JsonOperation<EmbeddingsRequest>(engine, "embeddings", ModelKind.Embedding, "embeddings")
{
    public override EmbeddingsRequest? Parse(ReadOnlyMemory<byte> body, out RequestError? error) => EmbeddingsRequest.Parse(body, out error);

    public override string WrongKindMessage(string model) => $"The model `{model}` does not support embeddings.";

    public override int CountPromptTokens(EmbeddingsRequest request, RoutableModel model) =>
        tokens.CountEmbeddingInput(model.Name, request.Texts, request.Root.GetProperty("input"));

    /// <summary>The input's texts (token arrays are not text).</summary>
    public override IReadOnlyList<PromptText> PromptTexts(System.Text.Json.JsonElement root)
    {
        var texts = new List<PromptText>();
        PromptTextReader.AddStrings(texts, root, "input", instructions: false);
        return texts;
    }

    /// <summary>Gemini and Cohere embed text only: token-array inputs go elsewhere.</summary>
    public override void Filter(EmbeddingsRequest request, List<RoutableDeployment> candidates)
    {
        if (request.Texts is null)
        {
            candidates.RemoveAll(static d => d.Provider.Config.Type is ProviderType.Gemini or ProviderType.Cohere);
        }
    }

    public override string NoDeploymentMessage(string model) => $"No deployment of model '{model}' can serve this request.";

    public override HttpRequestMessage CreateUpstreamRequest(RoutableDeployment deployment, EmbeddingsRequest request) =>
        deployment.Provider.Adapter.CreateEmbeddingsRequest(deployment, request);

    public override async ValueTask<AttemptOutcome> AnswerAsync(GatewayExchange<EmbeddingsRequest> exchange, RoutableDeployment deployment, HttpResponseMessage response, AttemptTimer timer, CancellationToken cancellationToken)
    {
        var (bytes, upstreamTime) = await ReadAnswerAsync(response, timer, cancellationToken);
        var answer = deployment.Provider.Adapter.ReadEmbeddingsResponse(bytes, exchange.Request, deployment);
        var responseBody = answer.Body;
        var usage = answer.Usage ?? new TokenUsage(exchange.Call.EstimatedPromptTokens, 0);
        if (answer.Usage is null)
        {
            responseBody = UsageJson.WithUsage(responseBody, usage, embeddings: true);
        }
        await exchange.Engine.ServeAnswerAsync(exchange, deployment, responseBody, usage, upstreamTime, cancellationToken);
        return AttemptOutcome.Done;
    }
}
