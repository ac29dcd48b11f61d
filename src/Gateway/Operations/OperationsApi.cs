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
        v1.MapPost("/rerank", static (HttpContext context, RerankHandler handler) => handler.HandleAsync(context))
            .WithName("CreateRerank")
            .WithRequestDoor("documents")
            .WithSummary("Reranks documents by relevance to a query (Cohere's and Jina's format).")
            .Accepts<object>("application/json")
            .Produces(StatusCodes.Status200OK, contentType: "application/json")
            .ProducesGatewayErrors();

        v1.MapPost("/moderations", static (HttpContext context, ModerationsHandler handler) => handler.HandleAsync(context))
            .WithName("CreateModeration")
            .WithRequestDoor("input")
            .WithSummary("Classifies text (and image) input as potentially harmful (OpenAI-compatible).")
            .Accepts<object>("application/json")
            .Produces(StatusCodes.Status200OK, contentType: "application/json")
            .ProducesGatewayErrors();

        v1.MapPost("/images/generations", static (HttpContext context, ImagesHandler handler) => handler.HandleAsync(context))
            .WithName("CreateImage")
            .WithRequestDoor("prompt")
            .WithSummary("Generates images from a prompt (OpenAI-compatible).")
            .Accepts<object>("application/json")
            .Produces(StatusCodes.Status200OK, contentType: "application/json")
            .ProducesGatewayErrors();

        v1.MapPost("/audio/speech", static (HttpContext context, SpeechHandler handler) => handler.HandleAsync(context))
            .WithName("CreateSpeech")
            .WithRequestDoor("input")
            .WithSummary("Turns text into audio, streamed back as the upstream produces it (OpenAI-compatible).")
            .Accepts<object>("application/json")
            .Produces(StatusCodes.Status200OK, contentType: "application/octet-stream")
            .ProducesGatewayErrors();

        // Multipart audio: the JSON door does not apply; the engine bounds the body (413) and reads the form.
        v1.MapPost("/audio/transcriptions", static (HttpContext context, TranscriptionsHandler handler) => handler.HandleAsync(context))
            .WithName("CreateTranscription")
            .WithSummary("Transcribes audio (multipart/form-data with a file and a model; OpenAI-compatible).")
            .Accepts<object>("multipart/form-data")
            .Produces(StatusCodes.Status200OK, contentType: "application/json")
            .Produces(StatusCodes.Status200OK, contentType: "text/plain")
            .ProducesGatewayErrors();
        return v1;
    }
}
