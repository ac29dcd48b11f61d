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
