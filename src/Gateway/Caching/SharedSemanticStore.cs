using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using LlmMarketplace.BuildingBlocks.Distributed;
using LlmMarketplace.BuildingBlocks.Distributed.Telemetry;
using LlmMarketplace.Gateway.Routing;
using StackExchange.Redis;

namespace LlmMarketplace.Gateway.Caching;

/// <summary>
/// Semantic entries in Redis (distributed mode), so an answer cached by one replica serves a paraphrase on every
/// replica, and an invalidation holds for all of them (no replica keeps a copy). A bucket is one hash
/// (<c>semcache:{model}:{team}:{bucket}</c>, model and team hex-encoded) whose fields are entries: id → creation time,
/// expiry and vector; the answer itself is a shared-cache entry (<c>cache:sem:{id}</c>) that expires with it. A lookup
/// reads one bucket (one round trip) and, on a hit, one answer. Redis being unreachable is a miss.
/// </summary>
internal sealed class SharedSemanticStore(RedisConnection redis, SharedResponseCache answers, ModelRegistry registry, DistributedMetrics metrics) : ISemanticStore
{
    /// <summary>Entries kept per bucket (a bucket is one question's paraphrases within one team and context).</summary>
    private const int MaxPerBucket = 64;

    public async ValueTask<SemanticHit?> FindAsync(SemanticLookup lookup, float[] vector, DateTimeOffset now)
    {
        if (!redis.IsConnected) return Unavailable();
        try
        {
            var key = BucketKey(lookup);
            var fields = await redis.Database.HashGetAllAsync(key);
            (string Id, double Similarity)? best = null;
            var expired = new List<RedisValue>();
            foreach (var field in fields)
            {
                var (_, expires, stored) = Decode(field.Value!);
                if (expires <= now)
                {
                    expired.Add(field.Name);
                    continue;
                }
                var similarity = ISemanticStore.Dot(stored, vector);
                if (similarity >= lookup.Threshold && similarity > (best?.Similarity ?? double.NegativeInfinity)) best = (field.Name!, similarity);
            }
            if (expired.Count > 0) _ = redis.Database.HashDeleteAsync(key, [.. expired], CommandFlags.FireAndForget);
            if (best is not { } found) return null;
            if (await answers.GetAsync(AnswerKey(found.Id)) is not { } answer || answer.Expires <= now)
            {
                _ = redis.Database.HashDeleteAsync(key, found.Id, CommandFlags.FireAndForget);
                return null;
            }
            return new SemanticHit(answer, found.Similarity);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return Unavailable();
        }
    }

    public async Task AddAsync(SemanticLookup lookup, float[] vector, CachedResponse response, DateTimeOffset now)
    {
        if (!redis.IsConnected)
        {
            Unavailable();
            return;
        }
        var id = Guid.NewGuid().ToString("N");
        try
        {
            var key = BucketKey(lookup);
            if (await redis.Database.HashLengthAsync(key) >= MaxPerBucket) return;
            await answers.SetAsync(AnswerKey(id), response);
            await redis.Database.HashSetAsync(key, id, Encode(now, response.Expires, vector));
            // The bucket outlives its longest entry; expired fields are dropped as lookups meet them.
            await redis.Database.KeyExpireAsync(key, registry.Settings.Cache.MaxTtl);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Unavailable();
        }
    }

    public async Task<long> RemoveAsync(string? model, string? team, DateTimeOffset? createdBefore)
    {
        var pattern = redis.KeyPrefix + "semcache:" + (model is null ? "*" : Hex(model)) + ":" + (team is null ? "*" : Hex(team)) + ":*";
        long removed = 0;
        var database = redis.Database;
        foreach (var server in redis.Multiplexer.GetServers())
        {
            if (server.IsReplica || !server.IsConnected) continue;
            await foreach (var key in server.KeysAsync(database.Database, pattern, pageSize: 500))
            {
                var fields = await database.HashGetAllAsync(key);
                var gone = fields.Where(f => createdBefore is null || Decode(f.Value!).Created < createdBefore).Select(static f => f.Name).ToArray();
                if (gone.Length == 0) continue;
                removed += await database.HashDeleteAsync(key, gone);
                await database.KeyDeleteAsync(gone.Select(id => redis.Key("cache:" + AnswerKey(id!))).ToArray());
            }
        }
        return removed;
    }

    private RedisKey BucketKey(SemanticLookup lookup) => redis.Key($"semcache:{Hex(lookup.Model)}:{Hex(lookup.Team)}:{lookup.Bucket}");

    private static string AnswerKey(string id) => "sem:" + id;

    /// <summary>Hex keeps names free of the separator and of the glob characters invalidation matches with.</summary>
    private static string Hex(string value) => Convert.ToHexString(Encoding.UTF8.GetBytes(value));

    private static byte[] Encode(DateTimeOffset created, DateTimeOffset expires, float[] vector)
    {
        var bytes = new byte[16 + (vector.Length * sizeof(float))];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, created.ToUnixTimeMilliseconds());
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8), expires.ToUnixTimeMilliseconds());
        MemoryMarshal.AsBytes(vector.AsSpan()).CopyTo(bytes.AsSpan(16));
        return bytes;
    }

    private static (DateTimeOffset Created, DateTimeOffset Expires, float[] Vector) Decode(byte[] bytes) =>
        bytes.Length < 16
            ? (DateTimeOffset.MinValue, DateTimeOffset.MinValue, [])
            : (DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64LittleEndian(bytes)),
               DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8))),
               MemoryMarshal.Cast<byte, float>(bytes.AsSpan(16)).ToArray());

    private SemanticHit? Unavailable()
    {
        metrics.Fallback("semantic_cache");
        return null;
    }
}
