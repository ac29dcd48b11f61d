using LlmMarketplace.Gateway.Providers;

namespace LlmMarketplace.Gateway.Caching;

/// <summary>A cached answer: the exact bytes sent to the client (a JSON body, or a whole SSE stream), and what produced it.</summary>
internal sealed record CachedResponse(byte[] Body, bool Stream, string Provider, string Deployment, TokenUsage Usage, DateTimeOffset Expires)
{
    public long Size => Body.Length + 256;
}

/// <summary>An in-memory exact-match cache, bounded by total size (least recently used evicted first), with a TTL per entry.</summary>
internal sealed class ResponseCache(TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, LinkedListNode<(string Key, CachedResponse Value)>> _map = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Key, CachedResponse Value)> _lru = new();
    private long _size;

    public long MaxBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>The cache shared by every replica (Redis), when configured; this one stays in front of it.</summary>
    public SharedResponseCache? Shared { get; init; }

    /// <summary>This replica's entry, else the shared one (kept here too for its remaining lifetime).</summary>
    public async ValueTask<CachedResponse?> GetAsync(string key)
    {
        if (TryGet(key, out var local)) return local;
        if (Shared is null || await Shared.GetAsync(key) is not { } shared || shared.Expires <= time.GetUtcNow()) return null;
        SetLocal(key, shared);
        return shared;
    }

    public long Size
    {
        get { lock (_lock) return _size; }
    }

    public int Count
    {
        get { lock (_lock) return _map.Count; }
    }

    public bool TryGet(string key, out CachedResponse response)
    {
        lock (_lock)
        {
            if (_map.TryGetValue(key, out var node))
            {
                if (node.Value.Value.Expires > time.GetUtcNow())
                {
                    _lru.Remove(node);
                    _lru.AddFirst(node);
                    response = node.Value.Value;
                    return true;
                }
                Remove(node);
            }
        }
        response = null!;
        return false;
    }

    public void Set(string key, CachedResponse response)
    {
        SetLocal(key, response);
        // Shared in the background: the answer has been sent already, and a failed write is only a later miss.
        if (Shared is { } shared) _ = shared.SetAsync(key, response);
    }

    private void SetLocal(string key, CachedResponse response)
    {
        if (response.Size > MaxBytes)
        {
            return;
        }
        lock (_lock)
        {
            if (_map.TryGetValue(key, out var existing))
            {
                Remove(existing);
            }
            var node = _lru.AddFirst((key, response));
            _map[key] = node;
            _size += response.Size;
            while (_size > MaxBytes && _lru.Last is { } last)
            {
                Remove(last);
            }
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _map.Clear();
            _lru.Clear();
            _size = 0;
        }
    }

    private void Remove(LinkedListNode<(string Key, CachedResponse Value)> node)
    {
        _lru.Remove(node);
        _map.Remove(node.Value.Key);
        _size -= node.Value.Value.Size;
    }
}
