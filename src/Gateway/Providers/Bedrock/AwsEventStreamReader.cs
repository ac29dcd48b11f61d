using System.Buffers;
using Amazon.Runtime.EventStreams;
using Amazon.Runtime.EventStreams.Internal;
using LlmMarketplace.Gateway.Streaming;

namespace LlmMarketplace.Gateway.Providers.Bedrock;

/// <summary>
/// Reads an AWS event stream (<c>application/vnd.amazon.eventstream</c>: binary messages with a prelude, headers, a payload
/// and CRC32 checksums) with AWSSDK.Core's decoder, one message at a time. An event's type is its <c>:event-type</c>
/// header; an exception message's is <see cref="ExceptionPrefix"/> followed by its <c>:exception-type</c>.
/// </summary>
internal sealed class AwsEventStreamReader : IUpstreamEventReader
{
    /// <summary>Marks an exception message in <see cref="EventType"/>.</summary>
    public const string ExceptionPrefix = "exception:";

    private readonly Stream _stream;
    private readonly EventStreamDecoder _decoder = new();
    private readonly Queue<EventStreamMessage> _messages = new();
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
    private byte[] _payload = [];

    public AwsEventStreamReader(Stream stream)
    {
        _stream = stream;
        _decoder.MessageReceived += (_, e) => _messages.Enqueue(e.Message);
    }

    public string? EventType { get; private set; }

    public ReadOnlySpan<byte> Data => _payload;

    public async ValueTask<bool> ReadAsync(CancellationToken cancellationToken)
    {
        while (_messages.Count == 0)
        {
            var read = await _stream.ReadAsync(_buffer, cancellationToken);
            if (read == 0)
            {
                return false;
            }
            try
            {
                _decoder.ProcessData(_buffer, 0, read);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A frame that does not parse, or fails its checksum, is a broken connection as far as the caller is concerned.
                throw new IOException("The upstream event stream is malformed: " + ex.Message, ex);
            }
        }
        var message = _messages.Dequeue();
        _payload = message.Payload ?? [];
        var headers = message.Headers;
        var messageType = headers is not null && headers.TryGetValue(":message-type", out var mt) ? mt.AsString() : "event";
        EventType = messageType switch
        {
            "event" => headers is not null && headers.TryGetValue(":event-type", out var et) ? et.AsString() : null,
            "exception" => ExceptionPrefix + (headers is not null && headers.TryGetValue(":exception-type", out var xt) ? xt.AsString() : "unknown"),
            _ => ExceptionPrefix + (headers is not null && headers.TryGetValue(":error-code", out var ec) ? ec.AsString() : "error"),
        };
        return true;
    }

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
    }
}
