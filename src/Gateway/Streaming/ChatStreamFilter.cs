using System.Buffers;
using System.Text.Json.Nodes;
using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Gateway.Streaming;

/// <summary>
/// Passes the text of a streamed chat answer through the interceptors' <see cref="IStreamTextFilter"/>s as it goes by:
/// each <c>chat.completion.chunk</c> event's <c>choices[].delta.content</c> is replaced by what the filters release, a
/// choice's <c>finish_reason</c> releases what they held, and a refusal drops the event and everything after it.
/// </summary>
internal sealed class ChatStreamFilter
{
    private readonly IStreamTextFilter[] _filters;
    private readonly ArrayBufferWriter<byte> _rewritten = new(4096);
    private readonly SortedSet<int> _open = [];
    private string _id = "";
    private string _model = "";
    private long _created;

    private ChatStreamFilter(IStreamTextFilter[] filters)
    {
        _filters = filters;
    }

    /// <summary>The filters the interceptors want on this call's stream, in stage order; null when none does.</summary>
    public static ChatStreamFilter? For(IReadOnlyList<IGatewayInterceptor> interceptors, GatewayCall call)
    {
        List<IStreamTextFilter>? filters = null;
        foreach (var interceptor in interceptors)
        {
            if (interceptor.FilterStream(call) is { } filter) (filters ??= []).Add(filter);
        }
        return filters is null ? null : new ChatStreamFilter([.. filters]);
    }

    /// <summary>The refusal that ended the stream, once a filter refused.</summary>
    public GatewayRejection? Rejection { get; private set; }

    /// <summary>
    /// Rewrites the chat events in <paramref name="events"/> (what the translator wrote for one upstream event). Returns
    /// false when a filter refused: <paramref name="events"/> then holds only the events before the refused one.
    /// </summary>
    public bool Apply(ArrayBufferWriter<byte> events)
    {
        if (events.WrittenCount == 0) return true;
        _rewritten.ResetWrittenCount();
        var remaining = events.WrittenSpan;
        var ok = true;
        while (remaining.Length > 0)
        {
            var end = remaining.IndexOf(Sse.EventEnd);
            var length = end < 0 ? remaining.Length : end + Sse.EventEnd.Length;
            var raw = remaining[..length];
            remaining = remaining[length..];
            if (!Rewrite(raw))
            {
                ok = false;
                break;
            }
        }
        events.ResetWrittenCount();
        events.Write(_rewritten.WrittenSpan);
        return ok;
    }

    /// <summary>
    /// The stream ended: a chunk releasing what the filters still hold of choices that never sent a
    /// <c>finish_reason</c>. Returns false when a filter refused (nothing is written then).
    /// </summary>
    public bool Flush(IBufferWriter<byte> output)
    {
        foreach (var choice in _open.ToArray())
        {
            if (Pass(choice, "", end: true) is not { } text) return false;
            if (text.Length == 0) continue;
            var chunk = new JsonObject
            {
                ["id"] = _id,
                ["object"] = "chat.completion.chunk",
                ["created"] = _created,
                ["model"] = _model,
                ["choices"] = new JsonArray(new JsonObject { ["index"] = choice, ["delta"] = new JsonObject { ["content"] = text }, ["finish_reason"] = null }),
            };
            Sse.WriteData(output, JsonSerializer.SerializeToUtf8Bytes(chunk, JsonDefaults.SerializerOptions));
        }
        return true;
    }

    /// <summary>One event: copied as is unless it is a chunk with choices, which is rewritten. False on a refusal.</summary>
    private bool Rewrite(ReadOnlySpan<byte> raw)
    {
        var data = raw.TrimEnd("\r\n"u8);
        if (!data.StartsWith(Sse.DataPrefix) || data.IndexOf("\"choices\""u8) < 0)
        {
            _rewritten.Write(raw);
            return true;
        }
        JsonObject? chunk;
        try
        {
            chunk = JsonNode.Parse(data[Sse.DataPrefix.Length..]) as JsonObject;
        }
        catch (JsonException)
        {
            chunk = null;
        }
        if (chunk?["choices"] is not JsonArray choices)
        {
            _rewritten.Write(raw);
            return true;
        }
        if (chunk["id"] is JsonValue id && id.TryGetValue<string>(out var idText)) _id = idText;
        if (chunk["model"] is JsonValue model && model.TryGetValue<string>(out var modelText)) _model = modelText;
        if (chunk["created"] is JsonValue created && created.TryGetValue<long>(out var createdAt)) _created = createdAt;
        foreach (var node in choices)
        {
            if (node is not JsonObject choice) continue;
            var index = choice["index"] is JsonValue i && i.TryGetValue<int>(out var n) ? n : 0;
            var delta = choice["delta"] as JsonObject;
            var content = delta?["content"] is JsonValue c && c.TryGetValue<string>(out var t) ? t : null;
            var finished = choice["finish_reason"] is JsonValue f && f.GetValueKind() == JsonValueKind.String;
            if (content is null && !finished) continue;
            if (content is not null) _open.Add(index);
            if (!_open.Contains(index)) continue; // a choice that never had text: nothing is held for it
            if (Pass(index, content ?? "", finished) is not { } released) return false;
            if (finished) _open.Remove(index);
            if (content is not null || released.Length > 0)
            {
                delta ??= [];
                choice["delta"] = delta;
                delta["content"] = released;
            }
        }
        Sse.WriteData(_rewritten, JsonSerializer.SerializeToUtf8Bytes(chunk, JsonDefaults.SerializerOptions));
        return true;
    }

    /// <summary>The text through every filter in order (each one's end released into the next); null on a refusal.</summary>
    private string? Pass(int choice, string text, bool end)
    {
        foreach (var filter in _filters)
        {
            var verdict = filter.OnText(choice, text);
            if (verdict.Rejection is not null) return Refuse(verdict.Rejection);
            text = verdict.Release;
            if (!end) continue;
            var last = filter.OnEnd(choice);
            if (last.Rejection is not null) return Refuse(last.Rejection);
            text += last.Release;
        }
        return text;
    }

    private string? Refuse(GatewayRejection rejection)
    {
        Rejection = rejection;
        return null;
    }
}
