using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Tokens;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LlmMarketplace.Gateway.Audio;

/// <summary>
/// <c>POST /v1/audio/speech</c> on the <see cref="GatewayEngine"/>: OpenAI's JSON request in, the upstream's audio out,
/// passed through as it streams (never buffered, never cached). Metered before the first byte: the input's characters at
/// <c>PerMCharacters</c> (USD per million), plus <c>PerRequest</c> and its tokens at <c>InputPerMTok</c>.
/// </summary>
internal sealed class SpeechHandler(GatewayEngine engine, TokenCounter tokens) : JsonOperation<JsonRequest>(engine, "speech", ModelKind.Speech, "speech")
{
    private const int MaxInputLength = 4096;

    public override JsonRequest? Parse(ReadOnlyMemory<byte> body, out RequestError? error) => JsonRequest.Parse(body, static root => JsonRequest.First(
        JsonRequest.RequiredString(root, "input", MaxInputLength),
        Voice(root),
        JsonRequest.OptionalEnum(root, "response_format", "mp3", "opus", "aac", "flac", "wav", "pcm"),
        JsonRequest.OptionalNumber(root, "speed", 0.25, 4.0),
        JsonRequest.OptionalEnum(root, "stream_format", "audio"),
        root.TryGetProperty("instructions", out var instructions) && instructions.ValueKind is not (JsonValueKind.String or JsonValueKind.Null)
            ? new RequestError($"Invalid type for 'instructions': expected a string, but got {RequestError.Describe(instructions)} instead.", "instructions", "invalid_type")
            : null), out error);

    /// <summary>A voice is a name, or <c>{"id"}</c> of a custom voice.</summary>
    private static RequestError? Voice(JsonElement root)
    {
        if (!root.TryGetProperty("voice", out var voice) || voice.ValueKind == JsonValueKind.Null) return new RequestError("Missing required parameter: 'voice'.", "voice");
        var ok = (voice.ValueKind == JsonValueKind.String && voice.GetString()!.Length > 0)
            || (voice.ValueKind == JsonValueKind.Object && voice.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String && id.GetString()!.Length > 0);
        return ok ? null : new RequestError("Invalid 'voice': expected a voice name or {\"id\": string}.", "voice", "invalid_type");
    }


    public override int CountPromptTokens(JsonRequest request, RoutableModel model) => tokens.Count(model.Name, Input(request));

    private static string Input(JsonRequest request) => request.Root.GetProperty("input").GetString()!;

    /// <summary>The input, read aloud as it is, and the voice <c>instructions</c>, which the model follows.</summary>
    public override IReadOnlyList<PromptText> PromptTexts(JsonElement root)
    {
        var texts = new List<PromptText>();
        PromptTextReader.AddString(texts, root, "input", instructions: false);
        PromptTextReader.AddString(texts, root, "instructions", instructions: true);
        return texts;
    }

    public override HttpRequestMessage CreateUpstreamRequest(RoutableDeployment deployment, JsonRequest request) =>
        OpenAIJson(deployment, "/audio/speech", request.Root);

    public override async ValueTask<AttemptOutcome> AnswerAsync(GatewayExchange<JsonRequest> exchange, RoutableDeployment deployment, HttpResponseMessage response, AttemptTimer timer, CancellationToken cancellationToken)
    {
        var (context, call) = (exchange.Context, exchange.Call);
        var upstream = await response.Content.ReadAsStreamAsync(cancellationToken);
        timer.FirstByteReceived();
        exchange.UnitCostUsd = Input(exchange.Request).Length * deployment.Config.Pricing.PerMCharacters / 1_000_000m;
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await StartAnswerAsync(exchange, deployment, new TokenUsage(call.EstimatedPromptTokens, 0), timer.Elapsed, ContentTypeOf(response, "audio/mpeg"));
        try
        {
            // The audio goes out as it arrives; a client that stops reading stops the upstream read too.
            await upstream.CopyToAsync(context.Response.Body, 64 * 1024, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException && !context.RequestAborted.IsCancellationRequested)
        {
            // Committed: nothing to retry. The cut is the deployment's failure; the client sees the connection end early.
            call.Status = StatusCodes.Status502BadGateway;
            deployment.Health.RecordFailure();
            context.Abort();
        }
        return AttemptOutcome.Done;
    }
}
