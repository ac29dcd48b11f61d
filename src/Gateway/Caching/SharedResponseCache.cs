using System.Buffers.Binary;
using System.Text.Json.Serialization;
using LlmMarketplace.BuildingBlocks.Distributed;
using LlmMarketplace.BuildingBlocks.Distributed.Telemetry;
using LlmMarketplace.Gateway.Providers;
using StackExchange.Redis;

namespace LlmMarketplace.Gateway.Caching;

/// <summary>
/// The response cache shared by every replica, in Redis: an answer cached by one replica is a hit on all of them.
/// Each entry is one string (a length-prefixed JSON header, then the exact bytes sent to the client) that expires with
/// the entry. Redis being unreachable is a miss, never a refused call.
/// </summary>
internal sealed class SharedResponseCache(RedisConnection redis, DistributedMetrics metrics)
{
    internal sealed record Header(bool Stream, string Provider, string Deployment, long Prompt, long Completion, long Cached, long CacheWrite, long Reasoning, long ExpiresMs);

    public async ValueTask<CachedResponse?> GetAsync(string key)
    {
        if (!redis.IsConnected) return Miss();
        try
        {
            var value = (byte[]?)await redis.Database.StringGetAsync(redis.Key("cache:" + key));
            if (value is null || value.Length < 4) return null;
            var headerLength = BinaryPrimitives.ReadInt32LittleEndian(value);
            var header = JsonSerializer.Deserialize(value.AsSpan(4, headerLength), SharedCacheJson.Default.Header)!;
            return new CachedResponse(value.AsSpan(4 + headerLength).ToArray(), header.Stream, header.Provider, header.Deployment,
                new TokenUsage(header.Prompt, header.Completion, header.Cached, header.CacheWrite, header.Reasoning),
                DateTimeOffset.FromUnixTimeMilliseconds(header.ExpiresMs));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return Miss();
        }
    }

    public async Task SetAsync(string key, CachedResponse response)
    {
        if (!redis.IsConnected)
        {
            Miss();
            return;
        }
        var u = response.Usage;
        var header = JsonSerializer.SerializeToUtf8Bytes(new Header(response.Stream, response.Provider, response.Deployment,
            u.PromptTokens, u.CompletionTokens, u.CachedTokens, u.CacheWriteTokens, u.ReasoningTokens, response.Expires.ToUnixTimeMilliseconds()),
            SharedCacheJson.Default.Header);
        var value = new byte[4 + header.Length + response.Body.Length];
        BinaryPrimitives.WriteInt32LittleEndian(value, header.Length);
        header.CopyTo(value.AsSpan(4));
        response.Body.CopyTo(value.AsSpan(4 + header.Length));
        try
        {
            await redis.Database.StringSetAsync(redis.Key("cache:" + key), value, new Expiration(response.Expires.UtcDateTime));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Miss();
        }
    }

    private CachedResponse? Miss()
    {
        metrics.Fallback("cache");
        return null;
    }
}

[JsonSerializable(typeof(SharedResponseCache.Header))]
internal sealed partial class SharedCacheJson : JsonSerializerContext;
