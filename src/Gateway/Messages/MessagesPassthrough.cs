using System.Buffers;
using System.Text.Json.Nodes;
using LlmMarketplace.BuildingBlocks.Http;
using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;

namespace LlmMarketplace.Gateway.Messages;

/// <summary>
/// <c>/v1/messages</c> on <c>anthropic</c>-type deployments: the client's request goes upstream as is (its
/// <c>cache_control</c> blocks, <c>thinking</c> and every other field; only <c>model</c> becomes the deployment's, and the
/// client's <c>anthropic-version</c> and <c>anthropic-beta</c> headers go along), and the upstream's message or events come
/// back as they are but for <c>model</c>. Usage (with cache reads and writes) is read from the answer, or from
/// <c>message_start</c> and <c>message_delta</c> in a stream.
/// </summary>
internal sealed class MessagesPassthrough(JsonObject request, string clientModel, string? version, string? beta) : NativeSsePassthrough(clientModel)
{
    protected override bool Stream => request["stream"]?.GetValueKind() == JsonValueKind.True;

    public override bool Serves(RoutableDeployment deployment) => deployment.Provider.Config.Type == ProviderType.Anthropic;

    public override HttpRequestMessage CreateRequest(RoutableDeployment deployment)
    {
        var body = (JsonObject)request.DeepClone();
        body["model"] = deployment.Config.UpstreamModel;
        return AnthropicAdapter.CreateMessagesRequest(deployment, ClientProtocolJson.Serialize(body), version, beta);
    }

    protected override TokenUsage? OnAnswer(JsonObject answer)
    {
        answer["model"] = ClientModel;
        return Usage(answer["usage"], null);
    }

    /// <summary>The shield and other interceptors inspect the answer as the chat completion the translation would have made.</summary>
    protected override byte[]? ChatView(byte[] answer, NativeExchange exchange, RoutableDeployment deployment) =>
        exchange.Request is ChatRequest chat ? AnthropicAdapter.Instance.ReadChatResponse(answer, chat, deployment).Body : null;

    protected override NativeEventKind OnEvent(string type, JsonObject data, ref TokenUsage? usage)
    {
        switch (type)
        {
            case "message_start" when data["message"] is JsonObject message:
                message["model"] = ClientModel;
                usage = Usage(message["usage"], usage);
                return NativeEventKind.Continue;
            case "message_delta":
                usage = Usage(data["usage"], usage);
                return NativeEventKind.Continue;
            case "message_stop":
                return NativeEventKind.End;
            case "error":
                return NativeEventKind.Error;
            default:
                return NativeEventKind.Continue;
        }
    }

    protected override void WriteErrorEvent(IBufferWriter<byte> output, string message) =>
        NamedSse.Write(output, "error", JsonNode.Parse(AnthropicErrorWriter.Serialize("api_error", message))!);

    private static TokenUsage? Usage(JsonNode? usage, TokenUsage? previous)
    {
        if (usage is not JsonObject) return previous;
        using var doc = JsonDocument.Parse(usage.ToJsonString());
        return AnthropicAdapter.ReadUsage(doc.RootElement, previous);
    }
}
