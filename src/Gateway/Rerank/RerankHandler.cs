using System.Buffers;
using System.Text.Json.Nodes;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Streaming;
using LlmMarketplace.Gateway.Tokens;

namespace LlmMarketplace.Gateway.Rerank;

/// <summary>
/// <c>POST /v1/rerank</c> on the <see cref="GatewayEngine"/>, in Cohere's (and Jina's) format:
/// <c>{model, query, documents (strings or {text}), top_n, return_documents}</c> →
/// <c>{id, model, results: [{index, relevance_score, document?}], meta: {billed_units: {search_units}}, usage}</c>.
/// Sent to <c>cohere</c> deployments as <c>POST /v2/rerank</c> and to OpenAI-compatible servers as <c>POST {BaseUrl}/rerank</c>
/// (vLLM, TEI, Jina). Metered in search units (one per 100 documents, as Cohere bills) at <c>PerSearchUnit</c>, plus
/// <c>PerRequest</c> and the tokens at <c>InputPerMTok</c>.
/// </summary>
internal sealed class RerankHandler(GatewayEngine engine, TokenCounter tokens) : JsonOperation<RerankRequest>(engine, "rerank", ModelKind.Rerank, "rerank")
{
    /// <summary>Cohere bills one search unit per query with up to this many documents.</summary>
    internal const int DocumentsPerSearchUnit = 100;

    private const int MaxDocuments = 10_000;

    public override RerankRequest? Parse(ReadOnlyMemory<byte> body, out RequestError? error)
    {
        var json = JsonRequest.Parse(body, Validate, out error);
        return json is null ? null : new RerankRequest(json);
    }

    private static RequestError? Validate(JsonElement root)
    {
        if (JsonRequest.RequiredString(root, "query") is { } queryError) return queryError;
        if (!root.TryGetProperty("documents", out var documents) || documents.ValueKind == JsonValueKind.Null)
        {
            return new RequestError("Missing required parameter: 'documents'.", "documents");
        }
        if (documents.ValueKind != JsonValueKind.Array)
        {
            return new RequestError($"Invalid type for 'documents': expected an array of strings or of {{\"text\": string}} objects, but got {RequestError.Describe(documents)} instead.", "documents", "invalid_type");
        }
        var count = documents.GetArrayLength();
        if (count == 0) return new RequestError("Invalid 'documents': empty array. Expected at least one document.", "documents", "empty_array");
        if (count > MaxDocuments) return new RequestError($"Invalid 'documents': at most {MaxDocuments} documents per request, got {count}.", "documents", "array_above_max_length");
        var i = 0;
        foreach (var document in documents.EnumerateArray())
        {
            if (TextOf(document) is null)
            {
                return new RequestError($"Invalid 'documents[{i}]': expected a string or an object with a string 'text'.", $"documents[{i}]", "invalid_type");
            }
            i++;
        }
        return JsonRequest.First(
            JsonRequest.OptionalInt(root, "top_n", 1, MaxDocuments),
            JsonRequest.OptionalBool(root, "return_documents"),
            JsonRequest.OptionalInt(root, "max_tokens_per_doc", 1, 1_000_000));
    }

    /// <summary>A document's text: the string, or the object's <c>text</c>; null for anything else.</summary>
    internal static string? TextOf(JsonElement document) => document.ValueKind switch
    {
        JsonValueKind.String => document.GetString(),
        JsonValueKind.Object when document.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String => text.GetString(),
        _ => null,
    };


    public override int CountPromptTokens(RerankRequest request, RoutableModel model)
    {
        // The model reads the query beside each document.
        var query = tokens.Count(model.Name, request.Query);
        return request.Documents.Sum(d => query + tokens.Count(model.Name, d));
    }

    /// <summary>The query and each document: texts to rank, never instructions.</summary>
    public override IReadOnlyList<PromptText> PromptTexts(JsonElement root)
    {
        var texts = new List<PromptText>();
        PromptTextReader.AddString(texts, root, "query", instructions: false);
        PromptTextReader.AddStrings(texts, root, "documents", instructions: false, "text");
        return texts;
    }

    public override HttpRequestMessage CreateUpstreamRequest(RoutableDeployment deployment, RerankRequest request)
    {
        var documents = new JsonArray();
        foreach (var text in request.Documents) documents.Add(text);
        var body = new JsonObject
        {
            ["model"] = deployment.Config.UpstreamModel,
            ["query"] = request.Query,
            ["documents"] = documents,
        };
        if (request.TopN is { } topN) body["top_n"] = topN;
        if (deployment.Provider.Config.Type == ProviderType.Cohere)
        {
            if (request.Root.TryGetProperty("max_tokens_per_doc", out var max) && max.ValueKind == JsonValueKind.Number) body["max_tokens_per_doc"] = max.GetInt32();
            return CohereAdapter.Create(deployment, "/v2/rerank", body);
        }
        if (request.ReturnDocuments) body["return_documents"] = true;
        var message = new HttpRequestMessage(HttpMethod.Post, OpenAIUrl(deployment, "/rerank"))
        {
            Content = new ByteArrayContent(JsonNodes.ToUtf8(body)),
            Version = System.Net.HttpVersion.Version11,
        };
        message.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        Authorize(message, deployment);
        return message;
    }

    public override async ValueTask<AttemptOutcome> AnswerAsync(GatewayExchange<RerankRequest> exchange, RoutableDeployment deployment, HttpResponseMessage response, AttemptTimer timer, CancellationToken cancellationToken)
    {
        var (bytes, upstreamTime) = await ReadAnswerAsync(response, timer, cancellationToken);
        byte[] answer;
        TokenUsage usage;
        try
        {
            (answer, usage, var searchUnits) = Translate(bytes, exchange.Request, exchange.Call.EstimatedPromptTokens);
            exchange.UnitCostUsd = searchUnits * deployment.Config.Pricing.PerSearchUnit;
        }
        catch (Exception ex) when (ChunkTranslatorBase.IsMalformed(ex) && ex is not JsonException)
        {
            // Valid JSON of the wrong shape is as malformed as bad JSON: the dispatcher answers 502 (or tries elsewhere), not 500.
            throw new JsonException("The upstream answer is not in the expected shape.", ex);
        }
        await exchange.Engine.ServeAnswerAsync(exchange, deployment, answer, usage, upstreamTime, cancellationToken);
        return AttemptOutcome.Done;
    }

    /// <summary>The upstream's answer in Cohere's shape, its usage and the search units it costs.</summary>
    private static (byte[] Body, TokenUsage Usage, long SearchUnits) Translate(byte[] bytes, RerankRequest request, int estimatedTokens)
    {
        using var document = JsonDocument.Parse(bytes);
        var root = document.RootElement;
        var (reportedUnits, reportedTokens) = ReadMeter(root);
        var searchUnits = reportedUnits ?? SearchUnits(request.Documents.Count);
        var usage = new TokenUsage(reportedTokens ?? estimatedTokens, 0);

        var buffer = new ArrayBufferWriter<byte>(bytes.Length + 256);
        using (var writer = new Utf8JsonWriter(buffer, JsonDefaults.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("id"u8, OpenAIAdapter.Str(root, "id") ?? "rerank-" + Guid.NewGuid().ToString("N"));
            writer.WriteString("model"u8, request.Model);
            writer.WriteStartArray("results"u8);
            // Cohere and vLLM answer "results", Jina-style servers "results" or "data"; each names the document's index.
            var results = root.TryGetProperty("results", out var r) && r.ValueKind == JsonValueKind.Array ? r : root.GetProperty("data");
            foreach (var result in results.EnumerateArray())
            {
                var index = result.GetProperty("index").GetInt32();
                if (index < 0 || index >= request.Documents.Count) throw new JsonException("a rerank result names a document that was not sent");
                var score = (result.TryGetProperty("relevance_score", out var s) ? s : result.GetProperty("score")).GetDouble();
                writer.WriteStartObject();
                writer.WriteNumber("index"u8, index);
                writer.WriteNumber("relevance_score"u8, score);
                if (request.ReturnDocuments)
                {
                    writer.WriteStartObject("document"u8);
                    writer.WriteString("text"u8, request.Documents[index]);
                    writer.WriteEndObject();
                }
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteStartObject("meta"u8);
            writer.WriteStartObject("billed_units"u8);
            writer.WriteNumber("search_units"u8, searchUnits);
            writer.WriteEndObject();
            writer.WriteEndObject();
            UsageJson.Write(writer, usage, embeddings: true);
            writer.WriteEndObject();
        }
        return (buffer.WrittenSpan.ToArray(), usage, searchUnits);
    }

    /// <summary>Search units of one query over <paramref name="documents"/> documents: one per started hundred.</summary>
    internal static long SearchUnits(int documents) => Math.Max(1, (documents + DocumentsPerSearchUnit - 1) / DocumentsPerSearchUnit);

    /// <summary>What the upstream reports: Cohere's <c>meta.billed_units.search_units</c> and <c>meta.tokens.input_tokens</c>, or OpenAI-style <c>usage</c> tokens.</summary>
    private static (long? SearchUnits, long? Tokens) ReadMeter(JsonElement root)
    {
        long? units = null, tokens = null;
        if (root.TryGetProperty("meta", out var meta) && meta.ValueKind == JsonValueKind.Object)
        {
            if (meta.TryGetProperty("billed_units", out var billed) && billed.ValueKind == JsonValueKind.Object && billed.TryGetProperty("search_units", out var su) && su.TryGetInt64(out var n) && n > 0) units = n;
            if (meta.TryGetProperty("tokens", out var t) && t.ValueKind == JsonValueKind.Object && t.TryGetProperty("input_tokens", out var it) && it.TryGetInt64(out var m)) tokens = m;
        }
        if (tokens is null && root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            foreach (var name in (ReadOnlySpan<string>)["prompt_tokens", "total_tokens"])
            {
                if (usage.TryGetProperty(name, out var v) && v.TryGetInt64(out var count))
                {
                    tokens = count;
                    break;
                }
            }
        }
        return (units, tokens);
    }
}

/// <summary>A parsed <c>POST /v1/rerank</c> body.</summary>
internal sealed class RerankRequest : IDisposable, IOperationRequest
{
    public RerankRequest(JsonRequest json)
    {
        Json = json;
        var root = json.Root;
        Query = root.GetProperty("query").GetString()!;
        Documents = root.GetProperty("documents").EnumerateArray().Select(static d => RerankHandler.TextOf(d)!).ToList();
        TopN = root.TryGetProperty("top_n", out var topN) && topN.ValueKind == JsonValueKind.Number ? topN.GetInt32() : null;
        ReturnDocuments = root.TryGetProperty("return_documents", out var rd) && rd.ValueKind == JsonValueKind.True;
    }

    public JsonRequest Json { get; }

    public JsonElement Root => Json.Root;

    public string Model => Json.Model;

    public RouteFilter? Route => Json.Route;

    public string Query { get; }

    public IReadOnlyList<string> Documents { get; }

    public int? TopN { get; }

    public bool ReturnDocuments { get; }

    public void Dispose() => Json.Dispose();
}
