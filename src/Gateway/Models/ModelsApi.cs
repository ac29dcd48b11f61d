using LlmMarketplace.Gateway.Errors;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Streaming;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace LlmMarketplace.Gateway.Models;

/// <summary><c>GET /v1/models</c> and <c>GET /v1/models/{id}</c> in OpenAI's shape.</summary>
internal static class ModelsApi
{
    public static async Task ListAsync(HttpContext context, ModelRegistry registry)
    {
        context.Response.Headers[RequestId.HeaderName] = RequestId.Get(context);
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.BodyWriter, JsonDefaults.WriterOptions);
        writer.WriteStartObject();
        writer.WriteString("object"u8, "list"u8);
        writer.WriteStartArray("data"u8);
        foreach (var model in registry.Models.OrderBy(static m => m.Name, StringComparer.Ordinal))
        {
            if (!Listed(context, model.Name)) continue;
            Write(writer, model);
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);
    }

    public static async Task GetAsync(HttpContext context, string id, ModelRegistry registry)
    {
        context.Response.Headers[RequestId.HeaderName] = RequestId.Get(context);
        if (!registry.TryGet(id, out var model) || !Visible(context, id))
        {
            await OpenAIErrors.WriteAsync(context, StatusCodes.Status404NotFound, $"The model '{id}' does not exist", OpenAIErrors.InvalidRequest, "model", "model_not_found");
            return;
        }
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.BodyWriter, JsonDefaults.WriterOptions);
        Write(writer, model);
        await writer.FlushAsync(context.RequestAborted);
    }

    private static bool Visible(HttpContext context, string model)
    {
        foreach (var visibility in context.RequestServices.GetServices<IModelVisibility>())
        {
            if (!visibility.IsVisible(context.User, model)) return false;
        }
        return true;
    }

    private static bool Listed(HttpContext context, string model)
    {
        foreach (var visibility in context.RequestServices.GetServices<IModelVisibility>())
        {
            if (!visibility.IsListed(context.User, model)) return false;
        }
        return true;
    }

    private static void Write(Utf8JsonWriter writer, RoutableModel model)
    {
        writer.WriteStartObject();
        writer.WriteString("id"u8, model.Name);
        writer.WriteString("object"u8, "model"u8);
        writer.WriteNumber("created"u8, model.Config.Created);
        writer.WriteString("owned_by"u8, model.Config.OwnedBy);
        writer.WriteString("kind"u8, model.Config.Kind == Configuration.ModelKind.Embedding ? "embedding" : "chat");
        if (model.Config.ContextWindow is { } window) writer.WriteNumber("context_length"u8, window);
        if (model.Config.Extensions is { } extensions)
        {
            foreach (var (name, value) in extensions)
            {
                if (name is "id" or "object" or "created" or "owned_by" or "kind" or "context_length") continue;
                writer.WritePropertyName(name);
                if (value is null) writer.WriteNullValue();
                else value.WriteTo(writer);
            }
        }
        writer.WriteEndObject();
    }
}
