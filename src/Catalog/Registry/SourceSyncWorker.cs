using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmMarketplace.Catalog.Registry;

/// <summary>
/// Syncs each source whose interval has passed since its last sync (on any replica: the time is stored), checking every
/// 30 seconds; the lease makes sure one replica at a time syncs a source. A failed sync is recorded and retried at the
/// next interval.
/// </summary>
internal sealed class SourceSyncWorker(CatalogOptions options, SourceSync sync, TimeProvider time, ILogger<SourceSyncWorker> logger) : BackgroundService
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var scheduled = options.Sources.Where(static s => s.IntervalMinutes > 0).ToList();
        if (scheduled.Count == 0) return;
        using var timer = new PeriodicTimer(Tick, time);
        try
        {
            do
            {
                foreach (var source in scheduled)
                {
                    try
                    {
                        await sync.SyncIfDueAsync(source, stoppingToken);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                    {
                        // Recorded on the source already when it could not be read; anything else is logged here.
                        if (ex is not SourceUnreadableException) Log.SourceSyncCrashed(logger, ex, source.Name);
                    }
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping
        }
    }
}
