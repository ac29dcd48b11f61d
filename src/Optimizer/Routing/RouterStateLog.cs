using LlmMarketplace.BuildingBlocks.Storage;

namespace LlmMarketplace.Optimizer.Routing;

/// <summary>
/// The auto-router's learned state, durable and shared: every score it learns from is appended to the database, and
/// each replica folds in the rows the others appended (every <see cref="RouterOptions.RefreshInterval"/>), as a start
/// folds in all of them. Replicas see the same observations, so their predictions converge; a restart keeps them.
/// </summary>
internal sealed class RouterStateLog(Database database, QualityRouter router, TimeProvider time)
{
    /// <summary>
    /// On PostgreSQL an identity is taken when a row is inserted but seen when it commits, so a lower id can appear after
    /// a higher one: each read looks back this many ids and skips those already folded.
    /// </summary>
    private const long Lookback = 1000;

    private readonly string _replica = Guid.NewGuid().ToString("N");
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly HashSet<long> _folded = [];
    private long _highest;

    /// <summary>Observations folded in from the log (other replicas' and earlier runs').</summary>
    public long Folded { get; private set; }

    public async Task AppendAsync(RouterObservation observation, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO optimizer_observations (replica, model, observation, at_ms) VALUES (@replica, @model, @observation, @atMs)",
            new { replica = _replica, model = observation.Model, observation = JsonSerializer.Serialize(observation), atMs = time.GetUtcNow().ToUnixTimeMilliseconds() },
            cancellationToken: cancellationToken));
    }

    /// <summary>Folds in the observations appended since the last call, except this replica's own (already learned).</summary>
    public async Task FoldAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            var rows = await connection.QueryAsync<(long Id, string Replica, string Observation)>(new CommandDefinition(
                "SELECT id, replica, observation FROM optimizer_observations WHERE id > @from ORDER BY id",
                new { from = Math.Max(0, _highest - Lookback) }, cancellationToken: cancellationToken));
            foreach (var (id, replica, json) in rows)
            {
                _highest = Math.Max(_highest, id);
                if (!_folded.Add(id) || replica == _replica) continue;
                if (JsonSerializer.Deserialize<RouterObservation>(json) is { } observation)
                {
                    router.Apply(observation);
                    Folded++;
                }
            }
            _folded.RemoveWhere(id => id <= _highest - Lookback);
        }
        finally
        {
            _gate.Release();
        }
    }
}
