using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Catalog.Search;

/// <summary>
/// Recent usage of listings as seen by this gateway replica: successful calls per listing per hour (last 24 hours)
/// for trending, and calls per team per listing for recommendations. In memory; the durable usage record is the
/// Access module's.
/// </summary>
internal sealed class UsageTracker(CatalogState state, TimeProvider time) : IGatewayInterceptor
{
    private const int Hours = 24;
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Service, long Hour), long> _hourly = [];
    private readonly Dictionary<string, Dictionary<string, long>> _byTeam = new(StringComparer.Ordinal);

    public GatewayStage Stage => GatewayStage.Metering;

    public ValueTask<GatewayRejection?> BeforeAsync(GatewayCall call, CancellationToken cancellationToken) => ValueTask.FromResult<GatewayRejection?>(null);

    public ValueTask AfterAsync(GatewayCall call, CancellationToken cancellationToken)
    {
        if (call.Status is >= 200 and < 300 && state.Current.TryResolveModel(call.Model, out var entry, out _))
        {
            Record(entry.Service.Id, call.Caller.TeamIds);
        }
        return ValueTask.CompletedTask;
    }

    public void Record(string serviceId, IEnumerable<string> teams)
    {
        var hour = time.GetUtcNow().ToUnixTimeSeconds() / 3600;
        lock (_lock)
        {
            _hourly[(serviceId, hour)] = _hourly.GetValueOrDefault((serviceId, hour)) + 1;
            foreach (var team in teams)
            {
                if (!_byTeam.TryGetValue(team, out var counts)) _byTeam[team] = counts = new(StringComparer.Ordinal);
                counts[serviceId] = counts.GetValueOrDefault(serviceId) + 1;
            }
            if (_hourly.Count > 100_000) Prune(hour);
        }
    }

    /// <summary>Listings by successful calls in the last 24 hours, most first.</summary>
    public List<(string ServiceId, long Calls)> Trending(int limit)
    {
        var hour = time.GetUtcNow().ToUnixTimeSeconds() / 3600;
        lock (_lock)
        {
            Prune(hour);
            return _hourly.GroupBy(static kv => kv.Key.Service).Select(static g => (g.Key, g.Sum(static kv => kv.Value)))
                .OrderByDescending(static x => x.Item2).ThenBy(static x => x.Key, StringComparer.Ordinal).Take(limit).ToList();
        }
    }

    /// <summary>What the teams use, most first.</summary>
    public List<string> UsedBy(IEnumerable<string> teams)
    {
        lock (_lock)
        {
            return teams.Where(_byTeam.ContainsKey).SelectMany(t => _byTeam[t]).GroupBy(static kv => kv.Key)
                .OrderByDescending(static g => g.Sum(static kv => kv.Value)).Select(static g => g.Key).ToList();
        }
    }

    private void Prune(long hour)
    {
        foreach (var key in _hourly.Keys.Where(k => k.Hour <= hour - Hours).ToList()) _hourly.Remove(key);
    }
}
