using System.Text.Json.Nodes;
using LlmMarketplace.BuildingBlocks.Http;
using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Responses;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Tokens;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace LlmMarketplace.Gateway.Messages;

/// <summary><c>/v1/messages</c>: Anthropic's Messages API, carried by the chat operation; errors in Anthropic's envelope.</summary>
internal static class MessagesApi
{
    public static async Task CreateAsync(HttpContext context, ModelRegistry registry)
    {
        var request = await ReadAsync(context, registry, countOnly: false);
        if (request is null) return;
        var chatRequest = ClientProtocolJson.Serialize(request.ToChatRequest());
        var native = new MessagesPassthrough(request.Root, request.Model,
            context.Request.Headers["anthropic-version"].ToString() is { Length: > 0 } version ? version : null,
            context.Request.Headers["anthropic-beta"].ToString() is { Length: > 0 } beta ? beta : null);
        await ClientProtocolRunner.RunAsync(context, chatRequest, new MessagesProtocol(request.Model, native),
            static c => c.RequestServices.GetRequiredService<ChatCompletionsHandler>().HandleAsync(c, "messages"));
    }

    /// <summary><c>POST /v1/messages/count_tokens</c>: the prompt's tokens as the gateway counts them (OpenAI's tokenizers).</summary>
    public static async Task CountTokensAsync(HttpContext context, ModelRegistry registry, TokenCounter tokens)
    {
        var request = await ReadAsync(context, registry, countOnly: true);
        if (request is null) return;
        if (!registry.TryGet(request.Model, out var model))
        {
            await AnthropicErrorWriter.WriteAsync(context, StatusCodes.Status404NotFound, $"model: {request.Model}");
            return;
        }
        var chat = request.ToChatRequest();
        using var doc = System.Text.Json.JsonDocument.Parse(chat.ToJsonString());
        var count = tokens.CountChatPrompt(model.Name, doc.RootElement.GetProperty("messages"),
            doc.RootElement.TryGetProperty("tools", out var tools) ? tools : null);
        await ResponsesApi.WriteJsonAsync(context, new JsonObject { ["input_tokens"] = count });
    }

    private static async Task<MessagesRequest?> ReadAsync(HttpContext context, ModelRegistry registry, bool countOnly)
    {
        var max = registry.Settings.MaxRequestBodyBytes;
        using var body = await RequestBody.ReadAsync(context, max);
        if (body is null)
        {
            await AnthropicErrorWriter.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, $"Request body too large: the limit is {max} bytes.");
            return null;
        }
        var request = MessagesRequest.Parse(body.Memory.Span, countOnly, out var error);
        if (request is null)
        {
            await AnthropicErrorWriter.WriteAsync(context, StatusCodes.Status400BadRequest, error!.Message);
        }
        return request;
    }
}
