using System.Text;
using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Embeddings;
using LlmMarketplace.Gateway.Moderations;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Rerank;
using LlmMarketplace.Gateway.Audio;
using Microsoft.Extensions.DependencyInjection;

namespace LlmMarketplace.Gateway.Routing;

/// <summary>What one health probe of a deployment found.</summary>
public sealed record DeploymentProbeDto(string Model, string Deployment, string Kind, string Path, bool Healthy, int? Status, string? Error, double LatencyMs);

/// <summary>
/// Probes a deployment with the smallest call of its model's kind, built by that kind's operation (so it is exactly what
/// the gateway would send): a one-token chat, a one-word embedding, a one-document rerank, a one-word moderation or
/// speech. Image and transcription deployments are probed with <c>GET {BaseUrl}/models</c>, since a generated image is
/// billed and a transcription needs audio. The outcome counts on the deployment's <see cref="DeploymentHealth"/> like a call.
/// </summary>
internal sealed class DeploymentProber(IServiceProvider services, TimeProvider time)
{
    public async Task<DeploymentProbeDto> ProbeAsync(RoutableModel model, RoutableDeployment deployment, CancellationToken cancellationToken)
    {
        var kind = model.Config.Kind;
        using var request = CreateRequest(kind, model.Name, deployment);
        var path = request.RequestUri!.AbsolutePath;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(deployment.Provider.Config.FirstByteTimeout);
        var started = time.GetTimestamp();
        int? status = null;
        string? error = null;
        try
        {
            using var response = await deployment.Provider.Invoker.SendAsync(request, timeout.Token);
            status = (int)response.StatusCode;
            await response.Content.LoadIntoBufferAsync(timeout.Token);
            if (!response.IsSuccessStatusCode) error = $"HTTP {status}";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            error = "no answer in time";
        }
        catch (HttpRequestException ex)
        {
            error = $"connection failed ({ex.HttpRequestError})";
        }
        var latency = time.GetElapsedTime(started);
        if (error is null) deployment.Health.RecordSuccess(latency);
        else deployment.Health.RecordFailure();
        return new DeploymentProbeDto(model.Name, deployment.Id, kind.ToString().ToLowerInvariant(), path, error is null, status, error, Math.Round(latency.TotalMilliseconds, 3));
    }

    private HttpRequestMessage CreateRequest(ModelKind kind, string model, RoutableDeployment deployment)
    {
        var name = JsonSerializer.Serialize(model);
        return kind switch
        {
            ModelKind.Chat => Build(services.GetRequiredService<ChatCompletionsHandler>(), deployment, $$"""{"model":{{name}},"messages":[{"role":"user","content":"ping"}],"max_tokens":1}"""),
            ModelKind.Embedding => Build(services.GetRequiredService<EmbeddingsHandler>(), deployment, $$"""{"model":{{name}},"input":"ping"}"""),
            ModelKind.Rerank => Build(services.GetRequiredService<RerankHandler>(), deployment, $$"""{"model":{{name}},"query":"ping","documents":["ping"],"top_n":1}"""),
            ModelKind.Moderation => Build(services.GetRequiredService<ModerationsHandler>(), deployment, $$"""{"model":{{name}},"input":"ping"}"""),
            ModelKind.Speech => Build(services.GetRequiredService<SpeechHandler>(), deployment, $$"""{"model":{{name}},"input":"ping","voice":"alloy"}"""),
            _ => ListModels(deployment),
        };
    }

    private static HttpRequestMessage Build<TRequest>(GatewayOperation<TRequest> operation, RoutableDeployment deployment, string body) where TRequest : class, IDisposable
    {
        using var request = operation.Parse(Encoding.UTF8.GetBytes(body), out var error)
            ?? throw new InvalidOperationException("The probe's own request is invalid: " + error!.Message);
        return operation.CreateUpstreamRequest(deployment, request);
    }

    private static HttpRequestMessage ListModels(RoutableDeployment deployment)
    {
        var message = new HttpRequestMessage(HttpMethod.Get, deployment.Provider.BasePath + "/models");
        if (deployment.Provider.Config.ApiKey is { Length: > 0 } key) message.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
        foreach (var (header, value) in deployment.Provider.Config.Headers) message.Headers.TryAddWithoutValidation(header, value);
        return message;
    }
}
