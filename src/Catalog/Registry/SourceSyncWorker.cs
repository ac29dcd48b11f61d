using LlmMarketplace.BuildingBlocks.Hosting;

namespace LlmMarketplace.Catalog.Registry;

/// <summary>
/// Syncs each source whose interval has passed since its last sync (on any replica: the time is stored), checking every
/// 30 seconds; the lease makes sure one replica at a time syncs a source. A failed sync is recorded and retried at the
/// next interval.
/// </summary>
internal sealed class SourceSyncWorker(CatalogOptions options, SourceSync sync, TimeProvider time, ILogger<SourceSyncWorker> logger) : PeriodicWorker(time, logger)
{
    private readonly List<RegistrySource> _scheduled = options.Sources.Where(static s => s.IntervalMinutes > 0).ToList();

    protected override TimeSpan Interval { get; } = TimeSpan.FromSeconds(30);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => _scheduled.Count == 0 ? Task.CompletedTask : base.ExecuteAsync(stoppingToken);

    protected override async Task RunAsync(CancellationToken cancellationToken)
    {
        foreach (var source in _scheduled)
        {
            try
            {
                await sync.SyncIfDueAsync(source, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // Recorded on the source already when it could not be read; anything else is logged here.
                if (ex is not SourceUnreadableException) Log.SourceSyncCrashed(Logger, ex, source.Name);
            }
        }
    }
}
