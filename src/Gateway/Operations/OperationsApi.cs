using LlmMarketplace.Gateway.Audio;
using LlmMarketplace.Gateway.Images;
using LlmMarketplace.Gateway.Moderations;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Rerank;
using LlmMarketplace.Gateway.Routing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmMarketplace.Gateway.Operations;

/// <summary>The smaller operations on the engine beside chat and embeddings: rerank, moderations, images and audio.</summary>
internal static class OperationsApi
{
    public static IServiceCollection AddGatewayOperations(this IServiceCollection services)
    {
        services.TryAddSingleton<RerankHandler>();
        services.TryAddSingleton<ModerationsHandler>();
        services.TryAddSingleton<ImagesHandler>();
        services.TryAddSingleton<SpeechHandler>();
        services.TryAddSingleton<TranscriptionsHandler>();
        services.TryAddSingleton<DeploymentProber>();
        return services;
    }

    /// <summary>Maps the operations on the authenticated <c>/v1</c> group.</summary>
    public static RouteGroupBuilder MapGatewayOperations(this RouteGroupBuilder v1)
    {
        v1.MapOperation<RerankHandler>("/rerank", "CreateRerank", "documents",
            "Reranks documents by relevance to a query (Cohere's and Jina's format).");
        v1.MapOperation<ModerationsHandler>("/moderations", "CreateModeration", "input",
            "Classifies text (and image) input as potentially harmful (OpenAI-compatible).");
        v1.MapOperation<ImagesHandler>("/images/generations", "CreateImage", "prompt",
            "Generates images from a prompt (OpenAI-compatible).");
        v1.MapOperation<SpeechHandler>("/audio/speech", "CreateSpeech", "input",
            "Turns text into audio, streamed back as the upstream produces it (OpenAI-compatible).", answers: "application/octet-stream");
        // Multipart audio: the JSON door does not apply; the engine bounds the body (413) and reads the form.
        v1.MapOperation<TranscriptionsHandler>("/audio/transcriptions", "CreateTranscription", null,
            "Transcribes audio (multipart/form-data with a file and a model; OpenAI-compatible).", "multipart/form-data", "application/json", "text/plain");
        return v1;
    }

    /// <summary>
    /// Maps <c>POST {pattern}</c> onto an operation's handler: named, behind the request door that reads
    /// <paramref name="requestDoor"/> (none for a body that is not JSON), documented to take <paramref name="accepts"/>,
    /// to answer 200 in each of <paramref name="answers"/> (JSON when none is given), and the gateway's refusals.
    /// </summary>
    public static RouteHandlerBuilder MapOperation<THandler>(this RouteGroupBuilder v1, string pattern, string name, string? requestDoor, string summary, string accepts = "application/json", params string[] answers)
        where THandler : IOperationEndpoint
    {
        var endpoint = v1.MapPost(pattern, static (HttpContext context, THandler handler) => handler.HandleAsync(context)).WithName(name);
        if (requestDoor is not null) endpoint.WithRequestDoor(requestDoor);
        endpoint.WithSummary(summary).Accepts<object>(accepts);
        foreach (var answer in answers.Length > 0 ? answers : ["application/json"])
        {
            endpoint.Produces(StatusCodes.Status200OK, contentType: answer);
        }
        return endpoint.ProducesGatewayErrors();
    }
}
