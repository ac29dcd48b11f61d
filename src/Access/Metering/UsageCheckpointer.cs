using LlmMarketplace.Access.Storage;
using LlmMarketplace.Access.Telemetry;
using LlmMarketplace.BuildingBlocks.Storage;

namespace LlmMarketplace.Access.Metering;

/// <summary>What one look of <see cref="UsageCheckpointer"/> at the usage file's log did.</summary>
internal enum UsageCheckpoint
{
    /// <summary>Nothing was committed since the last look: the file was left alone.</summary>
    Idle,

    /// <summary>One passive round copied what it could of a log still below <see cref="UsageCheckpointer.StartAgainPages"/>.</summary>
    Copied,

    /// <summary>The whole log was copied in the writer's turn: the next commit starts it again from its beginning.</summary>
    StartedAgain,

    /// <summary>The log had grown to the bound but could not be copied whole (a reader still used part of it).</summary>
    Behind,
}

/// <summary>
/// On the embedded database, checkpoints the usage records' write-ahead log in the background. A commit that crossed
/// SQLite's checkpoint threshold used to copy the log into the file and sync it while every call of its batch and of
/// the next one waited: a few milliseconds, most of the latency tail under load. Here passive checkpoints copy the log
/// beside the usage writer without blocking it; when little is left to copy, one last round takes the writer's turn, so
/// that it finds the whole log copied and the writer's next commit starts the log again from its beginning.
/// </summary>
internal sealed class UsageCheckpointer(AccessStore store, ILogger<UsageCheckpointer> logger) : BackgroundService
{
    private readonly UsageFileTurn _turn = store.UsageTurn;

    /// <summary>How often the log is looked at.</summary>
    internal static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    /// <summary>Log pages from which the log is copied and started again.</summary>
    internal const long StartAgainPages = 2_000;

    /// <summary>Pages still to copy at which the last round takes the writer's turn.</summary>
    private const long LastRoundPages = 128;

    /// <summary>Passive rounds in a row at most, before the last round.</summary>
    private const int MaxRounds = 16;

    /// <summary>The turns taken before the last look; the log is not looked at again until a commit has taken one.</summary>
    private long _lastLook = -1;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (store.Database.Provider != StorageProvider.Sqlite) return;
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await CheckpointAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.CheckpointFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Copies the log when it has grown to <see cref="StartAgainPages"/>: passive rounds while the writer goes on, then
    /// a last round in the writer's turn. Returns what it did.
    /// </summary>
    internal async Task<UsageCheckpoint> CheckpointAsync(CancellationToken cancellationToken)
    {
        // An idle file costs nothing: no connection, no round, until the writer commits again.
        var taken = _turn.Taken;
        if (taken == _lastLook) return UsageCheckpoint.Idle;
        _lastLook = taken;
        await using var connection = await store.OpenUsageAsync(cancellationToken);
        var (log, copied) = await RoundAsync(connection, cancellationToken);
        if (log < StartAgainPages) return UsageCheckpoint.Copied;
        for (var round = 1; round < MaxRounds && log - copied > LastRoundPages; round++)
        {
            (log, copied) = await RoundAsync(connection, cancellationToken);
        }
        using (await _turn.TakeAsync(cancellationToken))
        {
            (log, copied) = await RoundAsync(connection, cancellationToken);
        }
        return copied >= log ? UsageCheckpoint.StartedAgain : UsageCheckpoint.Behind;
    }

    /// <summary>One passive checkpoint: the log's pages and how many of them are now copied into the file.</summary>
    private static async Task<(long Log, long Copied)> RoundAsync(System.Data.Common.DbConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        // busy, pages in the log, pages of it copied into the file
        return await reader.ReadAsync(cancellationToken) ? (reader.GetInt64(1), reader.GetInt64(2)) : (0, 0);
    }
}
