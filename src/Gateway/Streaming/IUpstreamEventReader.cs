namespace LlmMarketplace.Gateway.Streaming;

/// <summary>Reads an upstream's stream one event at a time: server-sent events, or another framing (AWS event streams).</summary>
internal interface IUpstreamEventReader : IDisposable
{
    /// <summary>Reads the next event; false at the end of the stream.</summary>
    ValueTask<bool> ReadAsync(CancellationToken cancellationToken);

    /// <summary>The current event's type, or null.</summary>
    string? EventType { get; }

    /// <summary>The current event's payload; valid until the next read.</summary>
    ReadOnlySpan<byte> Data { get; }
}
