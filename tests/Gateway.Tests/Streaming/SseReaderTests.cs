using LlmMarketplace.Gateway.Streaming;

namespace LlmMarketplace.Gateway.Tests.Streaming;

/// <summary>
/// <see cref="SseReader"/> parses server-sent events however the bytes are split across reads.
/// Every case runs with whole-buffer reads and with reads of 1 to 3 bytes.
/// </summary>
public sealed class SseReaderTests
{
    /// <summary>A stream that hands out at most a few bytes per read, in a fixed pseudo-random pattern.</summary>
    private sealed class TrickleStream(byte[] bytes, int seed, int minChunk = 1, int maxChunk = 3) : Stream
    {
        private readonly Random _random = new(seed);
        private int _position;

        public int Reads { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            Reads++;
            var n = Math.Min(Math.Min(_random.Next(minChunk, maxChunk + 1), buffer.Length), bytes.Length - _position);
            bytes.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static async Task<List<(string? Event, string Data)>> ReadAllAsync(Stream stream)
    {
        using var reader = new SseReader(stream);
        var events = new List<(string? Event, string Data)>();
        while (await reader.ReadAsync(CancellationToken.None))
        {
            events.Add((reader.EventType, Encoding.UTF8.GetString(reader.Data)));
        }
        // Once the end was reported, it stays reported.
        Assert.False(await reader.ReadAsync(CancellationToken.None));
        return events;
    }

    /// <summary>Parses <paramref name="text"/> whole and in many trickled splittings, asserting every way gives the same events.</summary>
    private static async Task<List<(string? Event, string Data)>> ParseEveryWayAsync(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var whole = await ReadAllAsync(new MemoryStream(bytes));
        for (var seed = 0; seed < 25; seed++)
        {
            var trickle = new TrickleStream(bytes, seed);
            var split = await ReadAllAsync(trickle);
            Assert.Equal(whole, split);
            Assert.True(bytes.Length == 0 || trickle.Reads > bytes.Length / 3, "the stream must have been read in small pieces");
        }
        var bytewise = await ReadAllAsync(new TrickleStream(bytes, 0, 1, 1));
        Assert.Equal(whole, bytewise);
        return whole;
    }

    [Fact]
    public async Task Events_split_across_arbitrary_read_boundaries_are_reassembled()
    {
        var events = await ParseEveryWayAsync(
            "data: {\"id\":1,\"text\":\"héllo wörld — ✓\"}\n\n" +
            "data: {\"id\":2}\n\n" +
            "data: [DONE]\n\n");

        Assert.Equal(
            [(null, "{\"id\":1,\"text\":\"héllo wörld — ✓\"}"), (null, "{\"id\":2}"), (null, "[DONE]")],
            events);
    }

    [Fact]
    public async Task Crlf_line_endings_are_understood()
    {
        var events = await ParseEveryWayAsync(
            "event: message_start\r\ndata: {\"a\":1}\r\n\r\n" +
            "data: {\"b\":2}\r\n\r\n" +
            "data: line one\r\ndata: line two\r\n\r\n");

        Assert.Equal([("message_start", "{\"a\":1}"), (null, "{\"b\":2}"), (null, "line one\nline two")], events);
        Assert.DoesNotContain(events, static e => e.Data.Contains('\r', StringComparison.Ordinal));
    }

    [Fact]
    public async Task Multi_line_data_is_joined_with_newlines()
    {
        var events = await ParseEveryWayAsync(
            "data: first\ndata: second\ndata:third\ndata:  fourth\n\n" +
            "data\ndata: after-empty\n\n");

        // One leading space after the colon is dropped, no more; a field without a colon has an empty value.
        Assert.Equal([(null, "first\nsecond\nthird\n fourth"), (null, "\nafter-empty")], events);
    }

    [Fact]
    public async Task Comments_are_ignored()
    {
        var events = await ParseEveryWayAsync(
            ": this is a comment\n" +
            "data: one\n" +
            ":another comment inside the event\n" +
            "data: two\n\n" +
            ": keep-alive\n\n" +
            ": OPENROUTER PROCESSING\n\n" +
            "data: three\n\n");

        Assert.Equal([(null, "one\ntwo"), (null, "three")], events);
    }

    [Fact]
    public async Task The_event_field_names_the_event_and_does_not_leak_into_the_next()
    {
        var events = await ParseEveryWayAsync(
            "event: content_block_delta\ndata: {\"x\":1}\n\n" +
            "data: {\"y\":2}\n\n" +
            "event:custom_provider_event\ndata: {\"z\":3}\n\n" +
            "data: {\"w\":4}\nevent: error\n\n" +
            "id: 17\nretry: 1000\ndata: {\"v\":5}\n\n");

        Assert.Equal(
            [
                ("content_block_delta", "{\"x\":1}"),
                (null, "{\"y\":2}"),
                ("custom_provider_event", "{\"z\":3}"),
                ("error", "{\"w\":4}"),
                (null, "{\"v\":5}"),
            ],
            events);
    }

    [Theory]
    [InlineData("data: a\n\ndata: b")]
    [InlineData("data: a\n\ndata: b\n")]
    [InlineData("data: a\r\n\r\ndata: b\r\n")]
    public async Task The_last_event_counts_without_a_trailing_blank_line(string text)
    {
        var events = await ParseEveryWayAsync(text);

        Assert.Equal([(null, "a"), (null, "b")], events);
    }

    [Fact]
    public async Task Blank_lines_between_events_and_at_the_start_produce_no_events()
    {
        var events = await ParseEveryWayAsync("\n\r\n\ndata: a\n\n\n\n\ndata: b\n\n\n");

        Assert.Equal([(null, "a"), (null, "b")], events);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n\n")]
    [InlineData(": only a comment\n\n")]
    [InlineData(": only a comment, unterminated")]
    public async Task A_stream_without_data_has_no_events(string text)
    {
        Assert.Empty(await ParseEveryWayAsync(text));
    }

    [Fact]
    public async Task Events_larger_than_the_buffers_are_read_whole()
    {
        // Larger than the reader's initial read (16 KiB) and data (8 KiB) buffers.
        var big = string.Concat(Enumerable.Range(0, 12_000).Select(static i => (char)('a' + (i % 26))));
        var text = $"event: big\ndata: {big}\ndata: {big}\n\ndata: small\n\n";
        var bytes = Encoding.UTF8.GetBytes(text);

        var whole = await ReadAllAsync(new MemoryStream(bytes));
        var chunked = await ReadAllAsync(new TrickleStream(bytes, 3, 500, 5000));

        Assert.Equal([("big", big + "\n" + big), (null, "small")], whole);
        Assert.Equal(whole, chunked);
    }

    [Fact]
    public async Task A_reader_yields_each_event_as_soon_as_its_blank_line_arrives()
    {
        // The upstream writes one event and waits: the reader must hand it over without waiting for more bytes.
        var pipe = new System.IO.Pipelines.Pipe();
        using var reader = new SseReader(pipe.Reader.AsStream());
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes("event: ping\ndata: {\"n\":1}\n\n"));

        var first = reader.ReadAsync(CancellationToken.None).AsTask();
        await Wait.ForAsync(first, TimeSpan.FromSeconds(10), "the first event");
        Assert.True(await first);
        Assert.Equal("ping", reader.EventType);
        Assert.Equal("{\"n\":1}", Encoding.UTF8.GetString(reader.Data));

        var second = reader.ReadAsync(CancellationToken.None).AsTask();
        Assert.False(second.IsCompleted);
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes("data: {\"n\":2}\n\n"));
        await Wait.ForAsync(second, TimeSpan.FromSeconds(10), "the second event");
        Assert.True(await second);
        Assert.Null(reader.EventType);
        Assert.Equal("{\"n\":2}", Encoding.UTF8.GetString(reader.Data));

        await pipe.Writer.CompleteAsync();
        Assert.False(await reader.ReadAsync(CancellationToken.None));
    }
}
