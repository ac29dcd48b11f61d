using System.Globalization;

namespace LlmMarketplace.Gateway.Caching;

/// <summary>Per-request cache control: <c>Cache-Control: no-cache</c> (skip lookup), <c>no-store</c> (skip entirely), <c>max-age=N</c> or <c>x-gateway-cache-ttl: N</c> (TTL in seconds).</summary>
internal readonly record struct CacheControl(bool NoCache, bool NoStore, TimeSpan? Ttl)
{
    public static CacheControl Parse(string header, string ttlHeader)
    {
        bool noCache = false, noStore = false;
        TimeSpan? ttl = null;
        foreach (var raw in header.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (raw.Equals("no-cache", StringComparison.OrdinalIgnoreCase)) noCache = true;
            else if (raw.Equals("no-store", StringComparison.OrdinalIgnoreCase)) noStore = true;
            else if (raw.StartsWith("max-age=", StringComparison.OrdinalIgnoreCase) &&
                     int.TryParse(raw.AsSpan(8), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0)
            {
                ttl = TimeSpan.FromSeconds(seconds);
            }
        }
        if (int.TryParse(ttlHeader, NumberStyles.Integer, CultureInfo.InvariantCulture, out var t) && t >= 0)
        {
            ttl = TimeSpan.FromSeconds(t);
        }
        if (ttl == TimeSpan.Zero) noStore = true;
        return new CacheControl(noCache, noStore, ttl);
    }
}
