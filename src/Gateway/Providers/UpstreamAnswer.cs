using LlmMarketplace.Gateway.Errors;

namespace LlmMarketplace.Gateway.Providers;

/// <summary>Translates the JSON root of an upstream body (<paramref name="bodyLength"/> bytes) into <typeparamref name="TResult"/> with <typeparamref name="TState"/> alongside.</summary>
internal delegate TResult UpstreamBodyReader<in TState, out TResult>(JsonElement root, int bodyLength, TState state);

/// <summary>Reading a translated upstream answer or error, with one rule for answers of the wrong shape and one for error bodies.</summary>
internal static class UpstreamAnswer
{
    /// <summary>
    /// Parses <paramref name="body"/> and translates its root with <paramref name="read"/>. Valid JSON of the wrong shape
    /// is as malformed as bad JSON: it throws <see cref="JsonException"/>, so the dispatcher answers 502 (or tries
    /// elsewhere), not 500.
    /// </summary>
    public static TResult Read<TState, TResult>(ReadOnlySpan<byte> body, TState state, UpstreamBodyReader<TState, TResult> read)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            return read(document.RootElement, body.Length, state);
        }
        catch (Exception ex) when (ChunkTranslatorBase.IsMalformed(ex) && ex is not JsonException)
        {
            throw new JsonException("The upstream answer is not in the expected shape.", ex);
        }
    }

    /// <summary>
    /// The JSON root of an upstream error body (a copy that outlives the parse), or null when the body is not JSON: an
    /// error body may hold anything, so it is read for its fields and never echoed.
    /// </summary>
    public static JsonElement? ErrorRoot(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The message for an upstream error whose body names none.</summary>
    public static string StatusMessage(int status) => $"The upstream provider answered HTTP {status}.";

    /// <summary>An upstream error known only by its status.</summary>
    public static UpstreamError StatusError(int status) => new(status, StatusMessage(status), OpenAIErrors.TypeForStatus(status), null, null);
}
