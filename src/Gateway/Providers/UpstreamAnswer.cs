using System.Text.Json;

namespace LlmMarketplace.Gateway.Providers;

/// <summary>Reads an upstream body into <typeparamref name="TResult"/> with <typeparamref name="TState"/> alongside.</summary>
internal delegate TResult UpstreamBodyReader<in TState, out TResult>(ReadOnlySpan<byte> body, TState state);

/// <summary>Reading a translated upstream answer, with one rule for answers of the wrong shape.</summary>
internal static class UpstreamAnswer
{
    /// <summary>
    /// Reads <paramref name="body"/> with <paramref name="read"/>. Valid JSON of the wrong shape is as malformed as bad
    /// JSON: it throws <see cref="JsonException"/>, so the dispatcher answers 502 (or tries elsewhere), not 500.
    /// </summary>
    public static TResult Read<TState, TResult>(ReadOnlySpan<byte> body, TState state, UpstreamBodyReader<TState, TResult> read)
    {
        try
        {
            return read(body, state);
        }
        catch (Exception ex) when (ChunkTranslatorBase.IsMalformed(ex) && ex is not JsonException)
        {
            throw new JsonException("The upstream answer is not in the expected shape.", ex);
        }
    }
}
