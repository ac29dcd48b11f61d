using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using LlmMarketplace.BuildingBlocks.Embeddings;
using LlmMarketplace.Gateway.Embeddings;

namespace LlmMarketplace.Gateway.Providers;

/// <summary>
/// The "upstream" of a <c>local</c> provider: an in-process <see cref="HttpMessageHandler"/> that answers OpenAI's
/// embeddings wire format from a model running in this process. Requests to it pass through the same dispatcher as
/// any provider's, so routing, metering, the cache, limits and the shield apply unchanged; nothing leaves the process.
/// </summary>
internal sealed class LocalModelHandler : HttpMessageHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Method != HttpMethod.Post || request.RequestUri is not { } uri || !uri.AbsolutePath.EndsWith("/embeddings", StringComparison.Ordinal))
        {
            return Error(HttpStatusCode.NotFound, $"A local provider serves only embeddings, not {request.RequestUri?.AbsolutePath}.", "invalid_request_error", null, "unsupported_operation");
        }
        var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        using var parsed = EmbeddingsRequest.Parse(body, out var parseError);
        if (parsed is null)
        {
            return Error(HttpStatusCode.BadRequest, parseError!.Message, "invalid_request_error", parseError.Param, parseError.Code);
        }
        if (!LocalEmbeddingModel.IsKnown(parsed.Model))
        {
            return Error(HttpStatusCode.NotFound, $"The model `{parsed.Model}` does not exist in this process.", "invalid_request_error", "model", "model_not_found");
        }
        if (parsed.Texts is not { } texts)
        {
            return Error(HttpStatusCode.BadRequest, "'$.input' is invalid: a local model reads text, not token arrays.", "invalid_request_error", "input", null);
        }
        var model = LocalEmbeddingModel.Get(parsed.Model);
        if (parsed.Root.TryGetProperty("dimensions", out var d) && d.ValueKind != JsonValueKind.Null
            && !(d.ValueKind == JsonValueKind.Number && d.TryGetInt32(out var dims) && dims == model.Dimensions))
        {
            return Error(HttpStatusCode.BadRequest, $"This model does not support specifying dimensions other than {model.Dimensions}.", "invalid_request_error", "dimensions", null);
        }

        var tokens = model.CountTokens(texts);
        var vectors = await model.EmbedAsync(texts, cancellationToken);

        using var output = new MemoryStream();
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            EmbeddingEncoding.WriteData(writer, vectors, parsed.EncodingFormat, WriteVector);
            writer.WriteString("model"u8, model.Id);
            var total = tokens.Sum();
            writer.WriteStartObject("usage"u8);
            writer.WriteNumber("prompt_tokens"u8, total);
            writer.WriteNumber("total_tokens"u8, total);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return Json(HttpStatusCode.OK, output.ToArray());
    }

    private static void WriteVector(Utf8JsonWriter writer, float[] vector, string format)
    {
        if (format == "base64")
        {
            var bytes = new byte[vector.Length * sizeof(float)];
            for (var i = 0; i < vector.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), vector[i]);
            writer.WriteBase64StringValue(bytes);
            return;
        }
        writer.WriteStartArray();
        foreach (var v in vector) writer.WriteNumberValue(v);
        writer.WriteEndArray();
    }

    private static HttpResponseMessage Error(HttpStatusCode status, string message, string type, string? param, string? code)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object?>
        {
            ["error"] = new Dictionary<string, object?> { ["message"] = message, ["type"] = type, ["param"] = param, ["code"] = code },
        });
        return Json(status, body);
    }

    private static HttpResponseMessage Json(HttpStatusCode status, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return new HttpResponseMessage(status) { Content = content, Version = HttpVersion.Version11 };
    }
}
