using System.Buffers;
using System.Text.Json.Nodes;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;

namespace LlmMarketplace.Gateway.Responses;

/// <summary>
/// <c>/v1/responses</c> on OpenAI-type deployments whose provider declares <c>Responses: native</c>: the client's request
/// goes upstream as is but for <c>model</c> (the deployment's), <c>previous_response_id</c> (the gateway keeps the
/// conversation: the stored items are prepended to <c>input</c>) and <c>store</c> (false: the gateway stores the answer
/// itself, so <c>GET /v1/responses/{id}</c> and <c>previous_response_id</c> work whichever deployment answered). The
/// upstream's response or events come back as they are but for <c>model</c>; usage is read from the response (from
/// <c>response.completed</c> in a stream).
/// </summary>
internal sealed class ResponsesPassthrough(JsonObject request, string clientModel, JsonArray? history, JsonArray input, Func<JsonObject, CancellationToken, ValueTask>? completed)
    : NativeSsePassthrough(clientModel)
{
    private long _sequence = -1;

    protected override bool Stream => request["stream"]?.GetValueKind() == JsonValueKind.True;

    public override bool Serves(RoutableDeployment deployment) =>
        deployment.Provider.Config.Type == ProviderType.OpenAI && deployment.Provider.Config.NativeResponses;

    public override HttpRequestMessage CreateRequest(RoutableDeployment deployment)
    {
        var body = (JsonObject)request.DeepClone();
        body["model"] = deployment.Config.UpstreamModel;
        body.Remove("previous_response_id");
        if (history is { Count: > 0 } || body["input"] is JsonArray)
        {
            var items = new JsonArray();
            foreach (var item in (history ?? []).Concat(input)) items.Add(WithoutMessageId(item));
            body["input"] = items;
        }
        body["store"] = false;
        return OpenAIAdapter.Instance.CreateResponsesRequest(deployment, ClientProtocolJson.Serialize(body));
    }

    /// <summary>Message items are sent without the ids the gateway gave them (the upstream stores nothing they could refer to).</summary>
    private static JsonNode? WithoutMessageId(JsonNode? item)
    {
        var copy = item?.DeepClone();
        if (copy is JsonObject o && o["type"]?.GetValueKind() == JsonValueKind.String && o["type"]!.GetValue<string>() == "message") o.Remove("id");
        return copy;
    }

    protected override TokenUsage? OnAnswer(JsonObject answer)
    {
        answer["model"] = ClientModel;
        return Usage(answer["usage"]);
    }

    protected override NativeEventKind OnEvent(string type, JsonObject data, ref TokenUsage? usage)
    {
        if (data["sequence_number"] is JsonValue s && s.TryGetValue<long>(out var n)) _sequence = n;
        if (data["response"] is JsonObject response)
        {
            response["model"] = ClientModel;
            usage = Usage(response["usage"]) ?? usage;
        }
        switch (type)
        {
            case "response.completed" or "response.incomplete":
                Final = data["response"] as JsonObject;
                return NativeEventKind.End;
            case "response.failed" or "error":
                return NativeEventKind.Error;
            default:
                return NativeEventKind.Continue;
        }
    }

    protected override void WriteErrorEvent(IBufferWriter<byte> output, string message) =>
        NamedSse.Write(output, "error", new JsonObject
        {
            ["type"] = "error", ["code"] = "stream_interrupted", ["message"] = message, ["param"] = null, ["sequence_number"] = _sequence + 1,
        });

    protected override ValueTask CompletedAsync(JsonObject answer, CancellationToken cancellationToken) =>
        completed is null ? ValueTask.CompletedTask : completed(answer, cancellationToken);

    private static TokenUsage? Usage(JsonNode? usage)
    {
        if (usage is not JsonObject u) return null;
        static long Read(JsonNode? n) => n is JsonValue v && v.TryGetValue<long>(out var l) ? l : 0;
        return new TokenUsage(Read(u["input_tokens"]), Read(u["output_tokens"]), Read(u["input_tokens_details"]?["cached_tokens"]),
            ReasoningTokens: Read(u["output_tokens_details"]?["reasoning_tokens"]));
    }
}
