using System.Security.Claims;
using System.Text.Json.Nodes;
using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.Gateway.Providers;
using Microsoft.Extensions.Primitives;

namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>
/// One call through the data plane, shared with the interceptors of every stage (caller, policy, limits, content,
/// routing, metering) so they can admit, refuse or rewrite it before routing and record it after. Its state is typed:
/// what the gateway owns is a property, what a module keeps for itself is in <see cref="Features"/>.
/// </summary>
public sealed class GatewayCall : IDisposable
{
    private static readonly IReadOnlyDictionary<string, StringValues> NoHeaders = new Dictionary<string, StringValues>();
    private readonly Func<int> _estimatePromptTokens;
    private readonly Func<JsonElement, IReadOnlyList<PromptText>>? _promptTexts;
    private int? _promptEstimate;
    private ReadOnlyMemory<byte>? _replacementBody;
    private JsonDocument? _rewritten;

    internal GatewayCall(string requestId, string operation, string model, bool stream, ClaimsPrincipal user, DateTimeOffset startedAt, Func<int> estimatePromptTokens,
        IReadOnlyDictionary<string, StringValues>? requestHeaders = null, Func<JsonElement, IReadOnlyList<PromptText>>? promptTexts = null)
    {
        _promptTexts = promptTexts;
        RequestId = requestId;
        Operation = operation;
        Model = model;
        Stream = stream;
        User = user;
        Caller = CallerIdentity.From(user);
        StartedAt = startedAt;
        _estimatePromptTokens = estimatePromptTokens;
        RequestHeaders = requestHeaders ?? NoHeaders;
    }

    public string RequestId { get; }

    /// <summary>
    /// <c>chat</c>, <c>responses</c>, <c>messages</c> (all three carried by the chat operation), <c>embeddings</c>,
    /// <c>rerank</c>, <c>moderations</c>, <c>images</c>, <c>speech</c> or <c>transcriptions</c>.
    /// </summary>
    public string Operation { get; }

    /// <summary>The model name the client sent.</summary>
    public string Model { get; }

    public bool Stream { get; }

    public ClaimsPrincipal User { get; }

    /// <summary>Who is calling: derived once from the claims; the caller stage (Access) resolves it further (a key's own team, <c>OpenAI-Project</c>).</summary>
    public CallerIdentity Caller { get; set; }

    /// <summary>The client's request headers (read-only; names are case-insensitive).</summary>
    public IReadOnlyDictionary<string, StringValues> RequestHeaders { get; }

    /// <summary>One request header's value, or null when the client sent none.</summary>
    public string? Header(string name) => RequestHeaders.TryGetValue(name, out var value) && value.Count > 0 ? value.ToString() : null;

    /// <summary>State modules keep on this call, by type.</summary>
    public GatewayCallFeatures Features { get; } = new();

    public DateTimeOffset StartedAt { get; }

    /// <summary>Prompt tokens estimated with the model's tokenizer; computed once, on first use.</summary>
    public int EstimatedPromptTokens => _promptEstimate ??= _estimatePromptTokens();

    /// <summary>
    /// The request body as it stands (the OpenAI chat or embeddings request): the client's, or the latest
    /// <see cref="ReplacementBody"/> once a stage rewrote it; valid for the duration of the call.
    /// </summary>
    public JsonElement Request { get; internal set; }

    /// <summary>
    /// Set by an interceptor in <see cref="IGatewayInterceptor.BeforeAsync"/> to forward a rewritten body instead of the
    /// client's (same wire format, model and stream flag; for example with personal data redacted). Setting it also
    /// moves <see cref="Request"/> to the rewritten body, so later stages build on the rewrite rather than undo it.
    /// </summary>
    public ReadOnlyMemory<byte>? ReplacementBody
    {
        get => _replacementBody;
        set
        {
            var previous = _rewritten;
            _rewritten = value is { } body ? JsonDocument.Parse(body) : null;
            _replacementBody = value;
            if (_rewritten is not null) Request = _rewritten.RootElement;
            previous?.Dispose();
        }
    }

    /// <summary>
    /// The texts people wrote in <see cref="Request"/> as it stands (chat messages, an embeddings or moderation input, an
    /// image prompt, a rerank query and its documents, a speech input), as the call's operation declares them.
    /// </summary>
    public IReadOnlyList<PromptText> PromptTexts() =>
        _promptTexts is not null && Request.ValueKind == JsonValueKind.Object ? _promptTexts(Request) : [];

    /// <summary>
    /// Forwards <see cref="Request"/> with some of its <see cref="PromptTexts"/> replaced (for example with personal data
    /// redacted): sets <see cref="ReplacementBody"/> to the body with each text's value swapped in place, the rest as it was.
    /// </summary>
    public void ReplacePromptTexts(IEnumerable<(PromptText Text, string Replacement)> replacements)
    {
        var root = JsonNode.Parse(Request.GetRawText())!;
        var replaced = false;
        foreach (var (text, replacement) in replacements)
        {
            var parent = root;
            for (var i = 0; i < text.Path.Count - 1; i++)
            {
                parent = Step(parent, text.Path[i]) ?? throw new InvalidOperationException("A prompt text's path is not in the request.");
            }
            var last = text.Path[^1];
            if (last.Property is { } name) parent[name] = replacement;
            else parent[last.Index] = replacement;
            replaced = true;
        }
        if (replaced) ReplacementBody = JsonSerializer.SerializeToUtf8Bytes(root);
    }

    private static JsonNode? Step(JsonNode node, JsonStep step) => step.Property is { } name ? node[name] : node[step.Index];

    /// <summary>Set by interceptors to narrow which deployments (ids or provider names) this call may use.</summary>
    public IReadOnlyList<string>? AllowedDeployments { get; set; }

    /// <summary>
    /// The <c>OpenAI-Project</c> header: which of the caller's teams the call is for (OpenAI's SDKs send it when a
    /// project is set). Null when the client sent none.
    /// </summary>
    public string? Project { get; internal set; }

    /// <summary>The catalog listing (its slug) the model resolves to, when it came from the catalog; set by the catalog's interceptor.</summary>
    public string? Listing { get; set; }

    /// <summary>The version of <see cref="Listing"/> the call was routed to.</summary>
    public string? ListingVersion { get; set; }

    public string? Provider { get; internal set; }

    public string? Deployment { get; internal set; }

    public string? UpstreamModel { get; internal set; }

    public int Attempts { get; internal set; }

    /// <summary>The deployment whose answer a cascade checked and escalated from; its tokens and cost are part of <see cref="Usage"/> and <see cref="CostUsd"/>.</summary>
    public string? EscalatedFrom { get; internal set; }

    public TokenUsage Usage { get; internal set; }

    public decimal CostUsd { get; internal set; }

    /// <summary>The HTTP status the client got.</summary>
    public int Status { get; internal set; }

    /// <summary><c>HIT</c>, <c>MISS</c> or <c>BYPASS</c>.</summary>
    public string CacheStatus { get; internal set; } = "BYPASS";

    public TimeSpan Latency { get; internal set; }

    public TimeSpan? TimeToFirstToken { get; internal set; }

    /// <summary>True once the interceptors' <c>AfterAsync</c> ran (they run exactly once per call).</summary>
    internal bool AfterRan { get; set; }

    /// <summary>Headers interceptors want on the response (for example rate-limit headers).</summary>
    public IDictionary<string, string> ResponseHeaders { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    public void Dispose() => _rewritten?.Dispose();
}

/// <summary>A refusal by an interceptor, answered in OpenAI's error envelope.</summary>
public sealed record GatewayRejection(int Status, string Message, string Type, string? Code, string? Param = null);

/// <summary>
/// Runs around every data-plane call: <see cref="BeforeAsync"/> after the request is parsed and before routing,
/// <see cref="AfterAsync"/> once the outcome is known and before the response completes.
/// </summary>
public interface IGatewayInterceptor
{
    /// <summary>The pipeline stage this interceptor belongs to; the gateway orders interceptors by it, never by registration.</summary>
    GatewayStage Stage { get; }

    ValueTask<GatewayRejection?> BeforeAsync(GatewayCall call, CancellationToken cancellationToken);

    ValueTask AfterAsync(GatewayCall call, CancellationToken cancellationToken);

    /// <summary>
    /// Inspects a non-streamed chat completion (OpenAI format) before it is sent, after usage is metered: may refuse it
    /// or replace its body. Streamed completions are not inspected.
    /// </summary>
    ValueTask<CompletionInspection> InspectCompletionAsync(GatewayCall call, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) => default;

    /// <summary>
    /// A filter for the text of this call's streamed chat answer, or null (the default) to let the stream pass unseen.
    /// The engine asks once per streamed call, after every <see cref="BeforeAsync"/>, and passes each choice's content
    /// deltas through the filters in stage order as they arrive; the client gets what they release. A call with a filter
    /// is answered through the chat translation (a client protocol's native stream cannot be filtered).
    /// </summary>
    IStreamTextFilter? FilterStream(GatewayCall call) => null;
}

/// <summary>Sees a streamed answer's text as it passes: may hold back a tail, rewrite what it releases, or end the stream.</summary>
public interface IStreamTextFilter
{
    /// <summary>The next piece of choice <paramref name="choice"/>'s text: returns the text the client may have now.</summary>
    StreamTextVerdict OnText(int choice, string text);

    /// <summary>Choice <paramref name="choice"/>'s text is complete: returns whatever it still held, for the client.</summary>
    StreamTextVerdict OnEnd(int choice);
}

/// <summary>
/// What a <see cref="IStreamTextFilter"/> lets through: <see cref="Release"/>, or a <see cref="Rejection"/> that ends the
/// stream with an error event (nothing more of the answer reaches the client).
/// </summary>
public readonly record struct StreamTextVerdict(string Release, GatewayRejection? Rejection = null);

/// <summary>The verdict of <see cref="IGatewayInterceptor.InspectCompletionAsync"/>: nothing (pass), a refusal, or a replacement body.</summary>
public readonly record struct CompletionInspection(GatewayRejection? Rejection, byte[]? ReplacementBody);
