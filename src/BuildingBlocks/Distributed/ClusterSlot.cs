using StackExchange.Redis;

namespace LlmMarketplace.BuildingBlocks.Distributed;

/// <summary>
/// The Redis Cluster hash slot of a key, as the cluster specification defines it: CRC16 (XMODEM) of the key, or of its
/// hash tag (what lies between the first <c>{</c> and the next <c>}</c>, when not empty), modulo 16384. Computed here
/// because the client answers "no slot" for a cluster it routes as one server (a one-node cluster), where Redis still
/// refuses a script whose keys lie in several slots.
/// </summary>
public static class ClusterSlot
{
    public const int Count = 16384;

    public static int Of(RedisKey key)
    {
        byte[]? bytes = key;
        ReadOnlySpan<byte> span = bytes ?? [];
        var open = span.IndexOf((byte)'{');
        if (open >= 0)
        {
            var close = span[(open + 1)..].IndexOf((byte)'}');
            if (close > 0) span = span.Slice(open + 1, close);
        }
        ushort crc = 0;
        foreach (var b in span)
        {
            crc ^= (ushort)(b << 8);
            for (var bit = 0; bit < 8; bit++) crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
        }
        return crc % Count;
    }
}
