using System.Text.Json.Nodes;
using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Errors;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Routing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace LlmMarketplace.Gateway.Responses;

/// <summary><c>/v1/responses</c>: OpenAI's Responses API, carried by the chat operation; stored responses per team.</summary>
internal static class ResponsesApi
{
    public static async Task CreateAsync(HttpContext context, ResponseStore store, ModelRegistry registry, TimeProvider time)
    {
        var max = registry.Settings.MaxRequestBodyBytes;
        using var body = await RequestBody.ReadAsync(context, max);
        if (body is null)
        {
            await OpenAIErrors.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, $"Request body too large: the limit is {max} bytes.", OpenAIErrors.InvalidRequest, null, "request_too_large");
            return;
        }
        var request = ResponsesRequest.Parse(body.Memory.Span, out var error);
        if (request is null)
        {
            await OpenAIErrors.InvalidRequestAsync(context, error!.Message, error.Param, error.Code);
            return;
        }
        var owner = ResponseStore.OwnerOf(context.User);
        JsonArray? history = null;
        if (request.PreviousResponseId is { } previousId)
        {
            var previous = await store.GetAsync(owner, previousId, context.RequestAborted);
            if (previous is null)
            {
                await OpenAIErrors.WriteAsync(context, StatusCodes.Status404NotFound, $"Previous response with id '{previousId}' not found.", OpenAIErrors.InvalidRequest, "previous_response_id", "previous_response_not_found");
                return;
            }
            history = previous.Conversation();
        }
        foreach (var item in request.Input.OfType<JsonObject>())
        {
            if (item["id"] is null) item["id"] = ResponsesProtocol.NewId(item["type"]?.GetValue<string>() == "message" ? "msg" : "item");
        }
        var chatRequest = ClientProtocolJson.Serialize(request.ToChatRequest(history));
        Func<JsonObject, CancellationToken, ValueTask>? save = request.Store ? (response, ct) => new ValueTask(store.SaveAsync(owner, history ?? [], request.Input, response, ct)) : null;
        var native = new ResponsesPassthrough(request.Root, request.Model, history, request.Input, save);
        var protocol = new ResponsesProtocol(request, ResponsesProtocol.NewId("resp"), time.GetUtcNow().ToUnixTimeSeconds(), save, native);
        await ClientProtocolRunner.RunAsync(context, chatRequest, protocol, static c => c.RequestServices.GetRequiredService<ChatCompletionsHandler>().HandleAsync(c, "responses"));
    }

    public static async Task GetAsync(HttpContext context, string id, ResponseStore store)
    {
        var stored = await store.GetAsync(ResponseStore.OwnerOf(context.User), id, context.RequestAborted);
        if (stored is null)
        {
            await NotFoundAsync(context, id);
            return;
        }
        await WriteJsonAsync(context, stored.Response);
    }

    public static async Task DeleteAsync(HttpContext context, string id, ResponseStore store)
    {
        if (!await store.DeleteAsync(ResponseStore.OwnerOf(context.User), id, context.RequestAborted))
        {
            await NotFoundAsync(context, id);
            return;
        }
        await WriteJsonAsync(context, new JsonObject { ["id"] = id, ["object"] = "response.deleted", ["deleted"] = true });
    }

    /// <summary>The response's own input items, newest first unless <c>order=asc</c>, paged with <c>limit</c> (1-100, default 20) and <c>after</c>.</summary>
    public static async Task InputItemsAsync(HttpContext context, string id, ResponseStore store)
    {
        var query = context.Request.Query;
        var order = query["order"].ToString() is { Length: > 0 } o ? o : "desc";
        if (order is not ("asc" or "desc"))
        {
            await OpenAIErrors.InvalidRequestAsync(context, $"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.", "order");
            return;
        }
        var limit = 20;
        if (query["limit"].ToString() is { Length: > 0 } l && (!int.TryParse(l, out limit) || limit < 1 || limit > 100))
        {
            await OpenAIErrors.InvalidRequestAsync(context, "Invalid 'limit': expected an integer between 1 and 100.", "limit");
            return;
        }
        var stored = await store.GetAsync(ResponseStore.OwnerOf(context.User), id, context.RequestAborted);
        if (stored is null)
        {
            await NotFoundAsync(context, id);
            return;
        }
        IEnumerable<JsonNode> items = stored.Input.Select(static i => i!.DeepClone());
        if (order == "desc") items = items.Reverse();
        if (query["after"].ToString() is { Length: > 0 } after)
        {
            items = items.SkipWhile(i => i["id"]?.GetValue<string>() != after).Skip(1);
        }
        var all = items.ToList();
        var page = all.Take(limit).ToArray();
        await WriteJsonAsync(context, new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray(page),
            ["first_id"] = page.Length > 0 ? page[0]["id"]?.DeepClone() : null,
            ["last_id"] = page.Length > 0 ? page[^1]["id"]?.DeepClone() : null,
            ["has_more"] = all.Count > page.Length,
        });
    }

    private static Task NotFoundAsync(HttpContext context, string id) =>
        OpenAIErrors.WriteAsync(context, StatusCodes.Status404NotFound, $"Response with id '{id}' not found.", OpenAIErrors.InvalidRequest, null, "not_found");

    internal static Task WriteJsonAsync(HttpContext context, JsonNode node)
    {
        var bytes = ClientProtocolJson.Serialize(node);
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = bytes.Length;
        return context.Response.Body.WriteAsync(bytes, context.RequestAborted).AsTask();
    }
}
