using LlmMarketplace.BuildingBlocks.Distributed;
using LlmMarketplace.BuildingBlocks.Http;
using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Gateway.Admin;
using LlmMarketplace.Gateway.Caching;
using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Embeddings;
using LlmMarketplace.Gateway.Errors;
using LlmMarketplace.Gateway.Messages;
using LlmMarketplace.Gateway.Models;
using LlmMarketplace.Gateway.Operations;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Responses;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Telemetry;
using LlmMarketplace.Gateway.Tokens;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmMarketplace.Gateway;

/// <summary>Registers and maps the gateway module: the OpenAI-compatible data plane.</summary>
public static class GatewayExtensions
{
    /// <summary>Reads and validates the gateway configuration (throwing <see cref="InvalidConfigurationException"/> with every error) and registers the module.</summary>
    public static IHostApplicationBuilder AddGateway(this IHostApplicationBuilder builder)
    {
        var errors = new ValidationErrors();
        var config = GatewayConfigReader.Read(builder.Configuration, errors);
        if (!errors.IsEmpty)
        {
            throw new InvalidConfigurationException(errors);
        }

        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<TokenCounter>();
        services.TryAddSingleton(sp =>
        {
            var registry = new ModelRegistry(sp.GetRequiredService<TimeProvider>());
            registry.Apply(ModelSources.Merge(config, sp.GetServices<IModelSource>()));
            return registry;
        });
        services.TryAddSingleton<IGatewayModelCatalog>(static sp => sp.GetRequiredService<ModelRegistry>());
        services.TryAddSingleton(sp =>
        {
            var cache = new ResponseCache(sp.GetRequiredService<TimeProvider>())
            {
                MaxBytes = config.Settings.Cache.MaxBytes,
                // Optional, not a locator: the connection exists only when Redis:Configuration is set.
                Shared = sp.GetService<BuildingBlocks.Distributed.RedisConnection>() is { } redis
                    ? new SharedResponseCache(redis, sp.GetRequiredService<BuildingBlocks.Distributed.Telemetry.DistributedMetrics>())
                    : null,
            };
            return cache;
        });
        // Semantic entries: in Redis when replicas share state (every replica sees them), else in this process.
        services.TryAddSingleton<ISemanticStore>(static sp => sp.GetRequiredService<ResponseCache>().Shared is { } shared
            ? new SharedSemanticStore(sp.GetRequiredService<BuildingBlocks.Distributed.RedisConnection>(), shared, sp.GetRequiredService<ModelRegistry>(),
                sp.GetRequiredService<BuildingBlocks.Distributed.Telemetry.DistributedMetrics>())
            : new LocalSemanticStore(sp.GetRequiredService<ModelRegistry>()));
        services.TryAddSingleton<SemanticCache>();
        services.TryAddSingleton<IDeploymentDirectory>(static sp => sp.GetRequiredService<ModelRegistry>());
        services.TryAddSingleton<IGatewayControl, GatewayControl>();
        services.TryAddSingleton<GatewayMetrics>();
        services.TryAddSingleton<UpstreamDispatcher>();
        services.TryAddSingleton<GatewayInterceptors>();
        services.TryAddSingleton<GatewayEngine>();
        services.TryAddSingleton<ChatCompletionsHandler>();
        services.TryAddSingleton<EmbeddingsHandler>();
        services.AddGatewayOperations();
        services.TryAddSingleton<ResponseStore>();
        services.AddHostedService<GatewayStart>();
        services.TryAddSingleton(sp => new GatewayModels(sp.GetRequiredService<IConfiguration>(), sp.GetRequiredService<ModelRegistry>(),
            sp.GetServices<IModelSource>(), config, sp.GetRequiredService<ILogger<GatewayModels>>()));
        services.AddSnapshotRefresh(GatewayModels.Refresh);
        return builder;
    }

    public static IEndpointRouteBuilder MapGatewayApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").RequireAuthorization(Policies.Authenticated).WithTags("Gateway");

        v1.MapOperation<ChatCompletionsHandler>("/chat/completions", "CreateChatCompletion", "messages",
            "Creates a chat completion (OpenAI-compatible; streaming with stream=true).", answers: ["application/json", "text/event-stream"]);

        v1.MapPost("/responses", static (HttpContext context, ResponseStore store, ModelRegistry registry, TimeProvider time) => ResponsesApi.CreateAsync(context, store, registry, time))
            .WithName("CreateResponse")
            .WithRequestDoor("input")
            .WithSummary("Creates a model response (OpenAI's Responses API; streaming with stream=true; stored unless store=false).")
            .ProducesClientProtocolAnswers()
            .Produces(StatusCodes.Status502BadGateway);

        v1.MapGet("/responses/{id}", static (HttpContext context, string id, ResponseStore store) => ResponsesApi.GetAsync(context, id, store))
            .WithName("GetResponse")
            .WithSummary("Retrieves a stored response of the caller's team.")
            .Produces(StatusCodes.Status200OK, contentType: "application/json")
            .Produces(StatusCodes.Status404NotFound);

        v1.MapDelete("/responses/{id}", static (HttpContext context, string id, ResponseStore store) => ResponsesApi.DeleteAsync(context, id, store))
            .WithName("DeleteResponse")
            .WithSummary("Deletes a stored response of the caller's team.")
            .Produces(StatusCodes.Status200OK, contentType: "application/json")
            .Produces(StatusCodes.Status404NotFound);

        v1.MapGet("/responses/{id}/input_items", static (HttpContext context, string id, ResponseStore store) => ResponsesApi.InputItemsAsync(context, id, store))
            .WithName("ListResponseInputItems")
            .WithSummary("Lists the input items of a stored response (order=asc|desc, limit, after).")
            .Produces(StatusCodes.Status200OK, contentType: "application/json")
            .Produces(StatusCodes.Status400BadRequest)
            .Produces(StatusCodes.Status404NotFound);

        v1.MapPost("/messages", static (HttpContext context, ModelRegistry registry) => MessagesApi.CreateAsync(context, registry))
            .WithName("CreateMessage")
            .WithRequestDoor("messages")
            .WithSummary("Creates a message (Anthropic's Messages API; x-api-key or bearer; streaming with stream=true; errors in Anthropic's envelope).")
            .ProducesClientProtocolAnswers();

        v1.MapPost("/messages/count_tokens", static (HttpContext context, ModelRegistry registry, TokenCounter tokens) => MessagesApi.CountTokensAsync(context, registry, tokens))
            .WithName("CountMessageTokens")
            .WithRequestDoor("messages")
            .WithSummary("Counts the input tokens of a Messages request (Anthropic's count_tokens).")
            .ProducesJsonAnswer();

        v1.MapPost("/embeddings", static (HttpContext context, EmbeddingsHandler handler) => handler.HandleAsync(context))
            .WithName("CreateEmbedding")
            .WithRequestDoor("input")
            .WithSummary("Creates embeddings (OpenAI-compatible).")
            .ProducesJsonAnswer();

        v1.MapGatewayOperations();

        v1.MapGet("/models", static (HttpContext context, ModelRegistry registry) => ModelsApi.ListAsync(context, registry))
            .WithName("ListModels")
            .WithSummary("Lists the models the caller can use.")
            .Produces(StatusCodes.Status200OK, contentType: "application/json");

        v1.MapGet("/models/{id}", static (HttpContext context, string id, ModelRegistry registry) => ModelsApi.GetAsync(context, id, registry))
            .WithName("RetrieveModel")
            .WithSummary("Retrieves one model.")
            .Produces(StatusCodes.Status200OK, contentType: "application/json")
            .Produces(StatusCodes.Status404NotFound);

        // Anything else under /v1 answers in OpenAI's envelope (Anthropic's under /v1/messages): 405 with Allow for a
        // known path called with another method, 415 for a body that is not JSON, else 404.
        app.Map("/v1/{**rest}", static (HttpContext context, EndpointDataSource endpoints) => V1Fallback.HandleAsync(context, endpoints))
            .ExcludeFromDescription();

        var admin = app.MapGroup("/api/v1/gateway").RequireAuthorization(Policies.Admin).WithTags("Gateway administration");
        admin.MapGet("/deployments", static (ModelRegistry registry) => DeploymentsApi.List(registry))
            .WithName("ListDeploymentHealth")
            .WithSummary("Health of every deployment: circuit state, latency EWMA, success rate.");
        admin.MapPost("/deployments/{model}/{deployment}/reset", static (string model, string deployment, ModelRegistry registry) => DeploymentsApi.Reset(model, deployment, registry))
            .WithName("ResetDeploymentCircuit")
            .WithSummary("Closes the circuit of a deployment.");
        admin.MapPost("/deployments/{model}/{deployment}/probe", static (string model, string deployment, ModelRegistry registry, DeploymentProber prober, CancellationToken ct) => DeploymentsApi.ProbeAsync(model, deployment, registry, prober, ct))
            .WithName("ProbeDeployment")
            .WithSummary("Probes a deployment now with the smallest call of its model's kind (chat, embedding, rerank, ...) and counts the outcome on its health.");
        admin.MapDelete("/cache/semantic", static (HttpRequest request, SemanticCache cache, TimeProvider time) => CacheApi.InvalidateSemanticAsync(request, cache, time))
            .WithName("InvalidateSemanticCache")
            .WithSummary("Removes semantic cache entries by model, team (its id) and age (olderThanSeconds); every entry when none is given. Answers the number removed.")
            .WithQuery(
                new QueryParameter("model", Description: "Only entries of this model."),
                new QueryParameter("team", Description: "Only entries of this team (its id)."),
                new QueryParameter("olderThanSeconds", QueryType.Integer, "Only entries stored at least this many seconds ago."));
        return app;
    }

    /// <summary>A JSON body in and a JSON answer out, refused with 400 (bad input) or 404 (unknown model).</summary>
    private static RouteHandlerBuilder ProducesJsonAnswer(this RouteHandlerBuilder endpoint) => endpoint
        .Accepts<object>("application/json")
        .Produces(StatusCodes.Status200OK, contentType: "application/json")
        .Produces(StatusCodes.Status400BadRequest)
        .Produces(StatusCodes.Status404NotFound);

    /// <summary>
    /// What a client protocol carried by the chat operation (Responses, Messages) documents: a JSON body in, a JSON or
    /// event-stream answer out, and the refusals it meets before the upstream is called.
    /// </summary>
    private static RouteHandlerBuilder ProducesClientProtocolAnswers(this RouteHandlerBuilder endpoint) => endpoint
        .Accepts<object>("application/json")
        .Produces(StatusCodes.Status200OK, contentType: "application/json")
        .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
        .Produces(StatusCodes.Status400BadRequest)
        .Produces(StatusCodes.Status401Unauthorized)
        .Produces(StatusCodes.Status404NotFound)
        .Produces(StatusCodes.Status429TooManyRequests);

}
