using LlmMarketplace.BuildingBlocks.Http;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Gateway.Errors;
using LlmMarketplace.Gateway.Routing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>
/// The door of every <c>/v1</c> operation that takes a JSON body: the body is read once (bounded by
/// <c>Gateway.MaxRequestBodyBytes</c>, else 413) and its text checked (invalid UTF-8 or an unpaired surrogate
/// anywhere, else 400 naming the field) before the operation reads it. The operation then gets the same buffer from
/// <see cref="RequestBody.ReadAsync"/> (or from <c>Request.Body</c>), so nothing downstream meets text it cannot
/// read and nothing reaches an upstream. Errors are in OpenAI's envelope, Anthropic's on <c>/v1/messages</c>.
/// </summary>
public sealed class RequestDoor : IEndpointFilter
{
    private readonly string? _contentParam;
    private readonly ModelRegistry _registry;

    /// <param name="contentParam">The field that carries the request's content (named by a 413), e.g. <c>messages</c>.</param>
    /// <param name="registry">The gateway's settings, for the body limit.</param>
    internal RequestDoor(string? contentParam, ModelRegistry registry)
    {
        _contentParam = contentParam;
        _registry = registry;
    }

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var context = invocation.HttpContext;
        if (!HttpMethods.IsPost(context.Request.Method) || context.Features.Get<DoorBody>() is not null)
        {
            return await next(invocation);
        }
        context.Response.Headers[RequestId.HeaderName] = RequestId.Get(context);
        var max = _registry.Settings.MaxRequestBodyBytes;
        var body = await RequestBody.ReadAsync(context, max);
        if (body is null)
        {
            await WriteErrorAsync(context, StatusCodes.Status413PayloadTooLarge,
                $"Request body too large: the limit is {max} bytes (Gateway.MaxRequestBodyBytes).", _contentParam, "request_too_large");
            return Results.Empty;
        }
        using (body)
        {
            if (JsonText.FindInvalidText(body.Memory.Span) is { } path)
            {
                var param = path == "$" ? null : path;
                await WriteErrorAsync(context, StatusCodes.Status400BadRequest,
                    param is null
                        ? "The request body is not valid UTF-8 text: it holds invalid bytes or an unpaired surrogate (such as \\ud800)."
                        : $"Invalid '{param}': the text is not valid UTF-8 (invalid bytes or an unpaired surrogate such as \\ud800).",
                    param, "invalid_encoding");
                return Results.Empty;
            }
            var door = new DoorBody(body);
            context.Features.Set(door);
            var originalBody = context.Request.Body;
            context.Request.Body = body.AsStream();
            try
            {
                return await next(invocation);
            }
            finally
            {
                door.Closed = true;
                if (context.Request.Body is RequestBody.BufferStream) context.Request.Body = originalBody;
            }
        }
    }

    /// <summary>Writes a door error in the envelope of the API at this path.</summary>
    internal static Task WriteErrorAsync(HttpContext context, int status, string message, string? param, string? code)
    {
        if (AnthropicErrorWriter.IsMessagesPath(context.Request.Path))
        {
            return AnthropicErrorWriter.WriteAsync(context, status, message);
        }
        return OpenAIErrors.WriteAsync(context, status, message, OpenAIErrors.TypeForStatus(status), param, code);
    }
}

/// <summary>The body the door read and checked, handed to the operation's first <see cref="RequestBody.ReadAsync"/>.</summary>
internal sealed class DoorBody(RequestBody body)
{
    public RequestBody Body { get; } = body;

    /// <summary>Set once the operation took the body (later reads, e.g. of a translated request, read the stream).</summary>
    public bool Taken { get; set; }

    /// <summary>Set when the door's scope ended (the buffer went back to the pool).</summary>
    public bool Closed { get; set; }
}

public static class RequestDoorExtensions
{
    /// <summary>Puts the <see cref="RequestDoor"/> in front of a <c>/v1</c> operation with a JSON body.</summary>
    public static TBuilder WithRequestDoor<TBuilder>(this TBuilder builder, string? contentParam) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilterFactory((factory, next) =>
        {
            // Made once per endpoint when the endpoints are built, with the gateway's registry from the container.
            var door = new RequestDoor(contentParam, factory.ApplicationServices.GetRequiredService<ModelRegistry>());
            return invocation => door.InvokeAsync(invocation, next);
        });

    /// <summary>Documents the refusals every <c>/v1</c> operation may answer, in OpenAI's error envelope.</summary>
    public static RouteHandlerBuilder ProducesGatewayErrors(this RouteHandlerBuilder builder) => builder
        .Produces(StatusCodes.Status400BadRequest)
        .Produces(StatusCodes.Status401Unauthorized)
        .Produces(StatusCodes.Status404NotFound)
        .Produces(StatusCodes.Status413PayloadTooLarge)
        .Produces(StatusCodes.Status429TooManyRequests)
        .Produces(StatusCodes.Status502BadGateway);
}
