using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>A request body read into a pooled buffer, bounded by the configured limit.</summary>
internal sealed class RequestBody : IDisposable
{
    private byte[] _buffer;
    private readonly bool _borrowed;

    private RequestBody(byte[] buffer, int length, bool borrowed = false)
    {
        _buffer = buffer;
        Length = length;
        _borrowed = borrowed;
    }

    public int Length { get; }

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    /// <summary>
    /// Reads the body; returns null when it exceeds <paramref name="maxBytes"/>. Behind the <see cref="RequestDoor"/>
    /// the first read gets the buffer the door already read and checked.
    /// </summary>
    public static async ValueTask<RequestBody?> ReadAsync(HttpContext context, long maxBytes)
    {
        if (context.Features.Get<DoorBody>() is { Taken: false, Closed: false } door)
        {
            door.Taken = true;
            return new RequestBody(door.Body._buffer, door.Body.Length, borrowed: true);
        }
        if (context.Request.ContentLength is { } declared && declared > maxBytes)
        {
            return null;
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = maxBytes + 1;
        }
        var size = (int)Math.Min(context.Request.ContentLength ?? 4096, maxBytes) + 1;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(size, 256));
        var length = 0;
        var stream = context.Request.Body;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > maxBytes)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        return null;
                    }
                    var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    Buffer.BlockCopy(buffer, 0, bigger, 0, length);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var read = await stream.ReadAsync(buffer.AsMemory(length), context.RequestAborted);
                if (read == 0) break;
                length += read;
                if (length > maxBytes)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    return null;
                }
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return null;
        }
        return new RequestBody(buffer, length);
    }

    /// <summary>A read-only stream over the body (valid while this body is not disposed).</summary>
    public Stream AsStream() => new BufferStream(_buffer, Length);

    internal sealed class BufferStream(byte[] buffer, int length) : MemoryStream(buffer, 0, length, writable: false);

    public void Dispose()
    {
        if (_borrowed) return;
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
    }
}
