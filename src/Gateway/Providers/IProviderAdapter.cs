using System.Buffers;
using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Embeddings;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Streaming;

namespace LlmMarketplace.Gateway.Providers;

/// <summary>Translates between OpenAI's wire format (what clients speak) and one upstream protocol.</summary>
internal interface IProviderAdapter
{
    HttpRequestMessage CreateChatRequest(RoutableDeployment deployment, ChatRequest request);

    /// <summary>Turns an upstream non-streaming answer into an OpenAI chat completion.</summary>
    UpstreamChatResponse ReadChatResponse(ReadOnlySpan<byte> body, ChatRequest request, RoutableDeployment deployment);

    IChatStreamTranslator CreateStreamTranslator(ChatRequest request, RoutableDeployment deployment);

    /// <summary>Reads the events of a streamed answer: server-sent events unless the upstream frames its stream otherwise.</summary>
    IUpstreamEventReader OpenEventReader(Stream upstream) => new SseReader(upstream);

    /// <summary>Builds an embeddings call; an upstream the gateway does not embed through keeps this default, which refuses.</summary>
    HttpRequestMessage CreateEmbeddingsRequest(RoutableDeployment deployment, EmbeddingsRequest request) => throw NoEmbeddings(deployment);

    UpstreamEmbeddingsResponse ReadEmbeddingsResponse(ReadOnlySpan<byte> body, EmbeddingsRequest request, RoutableDeployment deployment) => throw NoEmbeddings(deployment);

    private static NotSupportedException NoEmbeddings(RoutableDeployment deployment) =>
        new($"Embeddings through provider '{deployment.Provider.Name}' ({deployment.Provider.Config.Type}) are not supported.");

    /// <summary>Maps an upstream error body to OpenAI's error fields.</summary>
    UpstreamError ReadError(int status, ReadOnlySpan<byte> body);
}

/// <summary>An OpenAI-format chat completion body, the usage it reports (null when the upstream gave none) and its text (for counting).</summary>
internal readonly record struct UpstreamChatResponse(byte[] Body, TokenUsage? Usage, string CompletionText);

internal readonly record struct UpstreamEmbeddingsResponse(byte[] Body, TokenUsage? Usage);

/// <summary>An error in OpenAI's terms.</summary>
internal sealed record UpstreamError(int Status, string Message, string Type, string? Param, string? Code);

/// <summary>Translates one upstream SSE stream into OpenAI <c>chat.completion.chunk</c> events.</summary>
internal interface IChatStreamTranslator
{
    /// <summary>Handles one upstream event, writing zero or more complete OpenAI SSE events to <paramref name="output"/>.</summary>
    StreamStep OnEvent(string? eventType, ReadOnlySpan<byte> data, IBufferWriter<byte> output);

    /// <summary>Called when the upstream closed the stream; returns whether that was a normal end.</summary>
    bool OnEnd();

    TokenUsage? Usage { get; }

    /// <summary>True once a usage chunk went to the client (OpenAI upstreams send their own when asked).</summary>
    bool UsageChunkWritten { get; }

    /// <summary>The completion text and tool arguments seen so far (used to count tokens when the upstream reports none).</summary>
    int CompletionLength { get; }

    string CompletionText { get; }

    string Id { get; }

    long Created { get; }

    string Model { get; }

    UpstreamError? Error { get; }
}

internal enum StreamStep
{
    Continue,
    Done,
    Error,
}
