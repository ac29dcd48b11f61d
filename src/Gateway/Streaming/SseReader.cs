using System.Buffers;
using System.Text;

namespace LlmMarketplace.Gateway.Streaming;

/// <summary>Reads server-sent events from a stream into pooled buffers, one event at a time.</summary>
internal sealed class SseReader(Stream stream) : IUpstreamEventReader
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
    private byte[] _data = ArrayPool<byte>.Shared.Rent(8 * 1024);
    private int _start;
    private int _end;
    private int _dataLength;
    private bool _eof;

    /// <summary>The <c>event:</c> field of the current event, or null.</summary>
    public string? EventType { get; private set; }

    /// <summary>The <c>data:</c> lines of the current event, joined by newlines; valid until the next read.</summary>
    public ReadOnlySpan<byte> Data => _data.AsSpan(0, _dataLength);

    public async ValueTask<bool> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryParseEvent(final: _eof))
            {
                return true;
            }
            if (_eof)
            {
                return false;
            }
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length)
            {
                var bigger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
                Buffer.BlockCopy(_buffer, 0, bigger, 0, _end);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = bigger;
            }
            var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
            if (read == 0)
            {
                _eof = true;
            }
            _end += read;
        }
    }

    private bool TryParseEvent(bool final)
    {
        var pos = _start;
        var any = false;
        string? eventType = null;
        _dataLength = 0;
        var hasData = false;
        while (true)
        {
            var span = _buffer.AsSpan(pos, _end - pos);
            var nl = span.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line;
            if (nl < 0)
            {
                if (!final || span.IsEmpty)
                {
                    if (final && any)
                    {
                        // The stream ended without the blank line after the last event: still an event.
                        _start = _end;
                        EventType = eventType;
                        return hasData || eventType is not null;
                    }
                    return false;
                }
                line = span;
                pos = _end;
            }
            else
            {
                line = span[..nl];
                pos += nl + 1;
            }
            if (line.Length > 0 && line[^1] == (byte)'\r')
            {
                line = line[..^1];
            }
            if (line.IsEmpty)
            {
                _start = pos;
                if (hasData || eventType is not null)
                {
                    EventType = eventType;
                    return true;
                }
                // A block of only comments (keep-alives such as ": ping") or unknown fields is no event.
                any = false;
                continue;
            }
            any = true;
            if (line[0] == (byte)':')
            {
                continue;
            }
            var colon = line.IndexOf((byte)':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? [] : line[(colon + 1)..];
            if (value.Length > 0 && value[0] == (byte)' ')
            {
                value = value[1..];
            }
            if (field.SequenceEqual("data"u8))
            {
                AppendData(value, hasData);
                hasData = true;
            }
            else if (field.SequenceEqual("event"u8))
            {
                eventType = InternEvent(value);
            }
        }
    }

    private void AppendData(ReadOnlySpan<byte> value, bool newline)
    {
        var needed = _dataLength + value.Length + 1;
        if (needed > _data.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _data.Length * 2));
            Buffer.BlockCopy(_data, 0, bigger, 0, _dataLength);
            ArrayPool<byte>.Shared.Return(_data);
            _data = bigger;
        }
        if (newline)
        {
            _data[_dataLength++] = (byte)'\n';
        }
        value.CopyTo(_data.AsSpan(_dataLength));
        _dataLength += value.Length;
    }

    private static string InternEvent(ReadOnlySpan<byte> value)
    {
        if (value.SequenceEqual("content_block_delta"u8)) return "content_block_delta";
        if (value.SequenceEqual("content_block_start"u8)) return "content_block_start";
        if (value.SequenceEqual("content_block_stop"u8)) return "content_block_stop";
        if (value.SequenceEqual("message_start"u8)) return "message_start";
        if (value.SequenceEqual("message_delta"u8)) return "message_delta";
        if (value.SequenceEqual("message_stop"u8)) return "message_stop";
        if (value.SequenceEqual("ping"u8)) return "ping";
        if (value.SequenceEqual("error"u8)) return "error";
        return Encoding.UTF8.GetString(value);
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        ArrayPool<byte>.Shared.Return(_data);
        _buffer = [];
        _data = [];
    }
}
