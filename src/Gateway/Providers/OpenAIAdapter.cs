using System.Buffers;
using System.Net.Http.Headers;
using System.Text;
using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Embeddings;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Streaming;

namespace LlmMarketplace.Gateway.Providers;

/// <summary>
/// OpenAI's protocol, spoken by OpenAI and by vLLM, Ollama, Groq, Together, Mistral and others.
/// The client's body is forwarded with every field it sent (unknown ones included); only <c>model</c>
/// and <c>stream_options</c> are rewritten, and the gateway's own <c>provider</c> extension is removed.
/// </summary>
internal class OpenAIAdapter : IProviderAdapter
{
    public static readonly OpenAIAdapter Instance = new();

    protected static readonly MediaTypeHeaderValue JsonContentType = new("application/json");

    public virtual HttpRequestMessage CreateChatRequest(RoutableDeployment deployment, ChatRequest request)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, ChatUrl(deployment))
        {
            Content = JsonContent(ChatBody(deployment, request)),
            Version = System.Net.HttpVersion.Version11,
        };
        AddAuth(message, deployment.Provider);
        return message;
    }

    /// <summary>The upstream chat body: the client's, rewritten by <see cref="RewriteBody"/>.</summary>
    protected virtual byte[] ChatBody(RoutableDeployment deployment, ChatRequest request) =>
        RewriteBody(request.Root, deployment.Config.UpstreamModel, request.Stream);

    public virtual HttpRequestMessage CreateEmbeddingsRequest(RoutableDeployment deployment, EmbeddingsRequest request)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, EmbeddingsUrl(deployment))
        {
            Content = JsonContent(RewriteBody(request.Root, deployment.Config.UpstreamModel, stream: false)),
        };
        AddAuth(message, deployment.Provider);
        return message;
    }

    /// <summary>A Responses API request (<c>POST {BaseUrl}/responses</c>) with the provider's credentials, for native passthrough.</summary>
    public HttpRequestMessage CreateResponsesRequest(RoutableDeployment deployment, byte[] body)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, deployment.Provider.BasePath + "/responses")
        {
            Content = new ByteArrayContent(body),
            Version = System.Net.HttpVersion.Version11,
        };
        message.Content.Headers.ContentType = JsonContentType;
        AddAuth(message, deployment.Provider);
        return message;
    }

    protected virtual string ChatUrl(RoutableDeployment d) => d.Provider.BasePath + "/chat/completions";

    protected virtual string EmbeddingsUrl(RoutableDeployment d) => d.Provider.BasePath + "/embeddings";

    protected virtual void AddAuth(HttpRequestMessage message, ProviderClient provider)
    {
        if (provider.Config.ApiKey is { Length: > 0 } key)
        {
            message.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
        }
        AddExtraHeaders(message, provider);
    }

    protected static void AddExtraHeaders(HttpRequestMessage message, ProviderClient provider)
    {
        foreach (var (name, value) in provider.Config.Headers)
        {
            message.Headers.TryAddWithoutValidation(name, value);
        }
    }

    protected static ByteArrayContent JsonContent(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = JsonContentType;
        return content;
    }

    /// <summary>Copies the client's body, with the upstream model and (when streaming) usage requested, without the <paramref name="dropped"/> fields.</summary>
    internal static byte[] RewriteBody(JsonElement root, string upstreamModel, bool stream, IReadOnlySet<string>? dropped = null)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, JsonDefaults.WriterOptions))
        {
            writer.WriteStartObject();
            JsonElement streamOptions = default;
            foreach (var property in root.EnumerateObject())
            {
                if (property.NameEquals("model"u8))
                {
                    writer.WriteString("model"u8, upstreamModel);
                }
                else if (property.NameEquals("stream_options"u8))
                {
                    streamOptions = property.Value;
                }
                else if (property.NameEquals("provider"u8))
                {
                    // The gateway's routing extension; not for the upstream.
                }
                else if (dropped is not null && dropped.Contains(property.Name))
                {
                    // A field this upstream refuses.
                }
                else
                {
                    property.WriteTo(writer);
                }
            }
            if (stream)
            {
                writer.WriteStartObject("stream_options"u8);
                if (streamOptions.ValueKind == JsonValueKind.Object)
                {
                    foreach (var option in streamOptions.EnumerateObject())
                    {
                        if (!option.NameEquals("include_usage"u8)) option.WriteTo(writer);
                    }
                }
                writer.WriteBoolean("include_usage"u8, true);
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public virtual UpstreamChatResponse ReadChatResponse(ReadOnlySpan<byte> body, ChatRequest request, RoutableDeployment deployment)
    {
        var bytes = body.ToArray();
        using var document = JsonDocument.Parse(bytes);
        var root = document.RootElement;
        var usage = UsageJson.ReadOpenAI(root);
        var text = usage is null ? CompletionTextOf(root) : "";
        if (root.ValueKind == JsonValueKind.Object)
        {
            var buffer = new ArrayBufferWriter<byte>(bytes.Length + 64);
            using (var writer = new Utf8JsonWriter(buffer, JsonDefaults.WriterOptions))
            {
                WriteAnswer(writer, root, request.Model, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), null);
            }
            bytes = buffer.WrittenSpan.ToArray();
        }
        return new UpstreamChatResponse(bytes, usage, text);
    }

    /// <summary>
    /// Copies an OpenAI completion or chunk as the client should see it: <c>model</c> is the model the client asked
    /// for (not the upstream's id), <c>created</c> is present (<paramref name="created"/> when the upstream left it
    /// out), every choice has its <c>index</c>, and (with <paramref name="cost"/>) <c>usage.cost</c> is set.
    /// </summary>
    internal static void WriteAnswer(Utf8JsonWriter writer, JsonElement root, string model, long created, decimal? cost)
    {
        writer.WriteStartObject();
        var wroteModel = false;
        var wroteCreated = false;
        foreach (var property in root.EnumerateObject())
        {
            if (property.NameEquals("model"u8))
            {
                writer.WriteString("model"u8, model);
                wroteModel = true;
            }
            else if (property.NameEquals("created"u8) && property.Value.ValueKind == JsonValueKind.Number)
            {
                property.WriteTo(writer);
                wroteCreated = true;
            }
            else if (property.NameEquals("created"u8))
            {
                // A null or malformed created is replaced below.
            }
            else if (property.NameEquals("choices"u8) && property.Value.ValueKind == JsonValueKind.Array)
            {
                writer.WriteStartArray("choices"u8);
                var i = 0;
                foreach (var choice in property.Value.EnumerateArray())
                {
                    if (choice.ValueKind != JsonValueKind.Object || (choice.TryGetProperty("index", out var ix) && ix.ValueKind == JsonValueKind.Number))
                    {
                        choice.WriteTo(writer);
                    }
                    else
                    {
                        writer.WriteStartObject();
                        writer.WriteNumber("index"u8, i);
                        foreach (var field in choice.EnumerateObject())
                        {
                            if (!field.NameEquals("index"u8)) field.WriteTo(writer);
                        }
                        writer.WriteEndObject();
                    }
                    i++;
                }
                writer.WriteEndArray();
            }
            else if (cost is { } c && property.NameEquals("usage"u8) && property.Value.ValueKind == JsonValueKind.Object)
            {
                writer.WriteStartObject("usage"u8);
                foreach (var field in property.Value.EnumerateObject())
                {
                    if (!field.NameEquals("cost"u8)) field.WriteTo(writer);
                }
                writer.WriteNumber("cost"u8, c);
                writer.WriteEndObject();
            }
            else
            {
                property.WriteTo(writer);
            }
        }
        if (!wroteCreated) writer.WriteNumber("created"u8, created);
        if (!wroteModel) writer.WriteString("model"u8, model);
        writer.WriteEndObject();
    }

    internal static string CompletionTextOf(JsonElement root)
    {
        var sb = new StringBuilder();
        if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
        {
            foreach (var choice in choices.EnumerateArray())
            {
                if (!choice.TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.Object) continue;
                if (message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
                {
                    sb.Append(content.GetString());
                }
                if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
                {
                    foreach (var call in calls.EnumerateArray())
                    {
                        if (call.TryGetProperty("function", out var fn))
                        {
                            if (fn.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String) sb.Append(n.GetString());
                            if (fn.TryGetProperty("arguments", out var a) && a.ValueKind == JsonValueKind.String) sb.Append(a.GetString());
                        }
                    }
                }
            }
        }
        return sb.ToString();
    }

    public virtual IChatStreamTranslator CreateStreamTranslator(ChatRequest request, RoutableDeployment deployment) =>
        new OpenAIStreamTranslator(request.IncludeUsage, deployment.Config.Pricing, request.Model);

    public virtual UpstreamEmbeddingsResponse ReadEmbeddingsResponse(ReadOnlySpan<byte> body, EmbeddingsRequest request, RoutableDeployment deployment)
    {
        var bytes = body.ToArray();
        using var document = JsonDocument.Parse(bytes);
        TokenUsage? usage = null;
        if (document.RootElement.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object)
        {
            usage = new TokenUsage(UsageJson.Long(u, "prompt_tokens"), 0);
        }
        return new UpstreamEmbeddingsResponse(bytes, usage);
    }

    public virtual UpstreamError ReadError(int status, ReadOnlySpan<byte> body) => ReadOpenAIError(status, body);

    internal static UpstreamError ReadOpenAIError(int status, ReadOnlySpan<byte> body)
    {
        string? message = null, type = null, param = null, code = null;
        if (UpstreamAnswer.ErrorRoot(body) is { ValueKind: JsonValueKind.Object } root)
        {
            if (root.TryGetProperty("error", out var error))
            {
                if (error.ValueKind == JsonValueKind.Object)
                {
                    message = Str(error, "message");
                    type = Str(error, "type");
                    param = Str(error, "param");
                    code = Str(error, "code");
                }
                else if (error.ValueKind == JsonValueKind.String)
                {
                    message = error.GetString();
                }
            }
            else
            {
                message = Str(root, "message") ?? Str(root, "detail");
            }
        }
        return new UpstreamError(status, message ?? UpstreamAnswer.StatusMessage(status), type ?? Errors.OpenAIErrors.TypeForStatus(status), param, code);
    }

    internal static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number => v.GetRawText(),
            _ => null,
        } : null;
}

/// <summary>
/// Passes OpenAI chunks through with every field the upstream sent, except that <c>model</c> is the model the client
/// asked for and <c>created</c> and <c>choices[].index</c> are always present; notes usage and drops the usage chunk
/// the client did not ask for.
/// </summary>
internal sealed class OpenAIStreamTranslator(bool forwardUsage, Configuration.Pricing? pricing = null, string? requestModel = null) : IChatStreamTranslator
{
    private readonly StringBuilder _text = new();

    public TokenUsage? Usage { get; private set; }

    public bool UsageChunkWritten { get; private set; }

    public int CompletionLength => _text.Length;

    public string CompletionText => _text.ToString();

    public string Id { get; private set; } = "";

    public long Created { get; private set; }

    public string Model { get; private set; } = requestModel ?? "";

    public UpstreamError? Error { get; private set; }

    private readonly string? _requestModel = requestModel;
    private bool _done;
    private bool _started;

    public StreamStep OnEvent(string? eventType, ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        if (data.SequenceEqual("[DONE]"u8))
        {
            _done = true;
            return StreamStep.Done;
        }
        if (data.IsEmpty)
        {
            return StreamStep.Continue;
        }
        var usageOnly = false;
        try
        {
            var reader = new Utf8JsonReader(data);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return StreamStep.Continue;
            }
            if (root.TryGetProperty("error", out _) || eventType == "error")
            {
                Error = OpenAIAdapter.ReadOpenAIError(502, data);
                return StreamStep.Error;
            }
            if (!_started)
            {
                _started = true;
                Id = OpenAIAdapter.Str(root, "id") ?? "";
                if (_requestModel is null) Model = OpenAIAdapter.Str(root, "model") ?? "";
                Created = root.TryGetProperty("created", out var c) && c.TryGetInt64(out var cv) ? cv : DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            }
            var usage = UsageJson.ReadOpenAI(root);
            if (usage is not null)
            {
                Usage = usage;
            }
            var hasChoices = false;
            if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
            {
                foreach (var choice in choices.EnumerateArray())
                {
                    hasChoices = true;
                    if (!choice.TryGetProperty("delta", out var delta) || delta.ValueKind != JsonValueKind.Object) continue;
                    if (delta.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
                    {
                        _text.Append(content.GetString());
                    }
                    if (delta.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
                    {
                        foreach (var call in calls.EnumerateArray())
                        {
                            if (call.TryGetProperty("function", out var fn) && fn.ValueKind == JsonValueKind.Object)
                            {
                                if (fn.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String) _text.Append(n.GetString());
                                if (fn.TryGetProperty("arguments", out var a) && a.ValueKind == JsonValueKind.String) _text.Append(a.GetString());
                            }
                        }
                    }
                }
            }
            usageOnly = usage is not null && !hasChoices;
            if (usageOnly && forwardUsage && pricing is not null)
            {
                // The final usage chunk carries the call's cost as an extension (usage.cost, USD).
                var u = usage!.Value;
                UsageChunkWritten = true;
                Sse.WriteJson(output, (root, self: this, cost: pricing.Cost(u.PromptTokens, u.CompletionTokens, u.CachedTokens, u.CacheWriteTokens)),
                    static (w, s) => OpenAIAdapter.WriteAnswer(w, s.root, s.self.Model, s.self.Created, s.cost));
                return StreamStep.Continue;
            }
            if (!(usageOnly && !forwardUsage))
            {
                UsageChunkWritten |= usageOnly;
                Sse.WriteJson(output, (root, self: this), static (w, s) => OpenAIAdapter.WriteAnswer(w, s.root, s.self.Model, s.self.Created, null));
            }
            return StreamStep.Continue;
        }
        catch (JsonException)
        {
            Error = new UpstreamError(502, "The upstream provider sent a malformed stream event.", "api_error", null, "upstream_error");
            return StreamStep.Error;
        }
    }

    public bool OnEnd() => _done;
}
