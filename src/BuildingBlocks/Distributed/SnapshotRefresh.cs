using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace LlmMarketplace.BuildingBlocks.Distributed;

/// <summary>
/// What a module holds in memory and reloads from storage: the one refresh mechanism every module uses. The snapshot is
/// loaded once before the server takes requests (unless the module loads it itself), reloaded at once when another
/// replica announces a change of <see cref="Topic"/> on the invalidation bus, and reloaded every <see cref="Interval"/>
/// as a catch-up, so a replica that missed a message (Redis down, a dropped subscription, no Redis at all) is stale for
/// one interval at most. A snapshot made of something that announces its own changes (a configuration file, another
/// module's snapshot) also reloads at once when <see cref="Changes"/> fires. A failed reload keeps the last snapshot and
/// is logged; the next one tries again. Reloads may overlap (a message during a catch-up): a reload takes its own lock
/// where that matters.
/// </summary>
/// <param name="Interval">The periodic catch-up; null for a snapshot that has nothing to catch up with (it is told of every change).</param>
public sealed record SnapshotRefresh(string Name, string? Topic, TimeSpan? Interval, Func<IServiceProvider, CancellationToken, Task> ReloadAsync)
{
    /// <summary>False when the module loads the snapshot itself at start (for example after creating what it needs).</summary>
    public bool LoadAtStart { get; init; } = true;

    /// <summary>A token that fires when what the snapshot is made of changes; asked for again after each change.</summary>
    public Func<IServiceProvider, IChangeToken>? Changes { get; init; }
}

public static class SnapshotRefreshExtensions
{
    /// <summary>Registers a snapshot's refresh; the hosted service starts where this is called in the host's registration order.</summary>
    public static IServiceCollection AddSnapshotRefresh(this IServiceCollection services, SnapshotRefresh refresh) =>
        services.AddSingleton<IHostedService>(sp => new SnapshotRefresher(refresh, sp, sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<SnapshotRefresher>>(), refresh.Topic is null ? null : sp.GetRequiredService<IInvalidationBus>()));
}

/// <summary>Runs one <see cref="SnapshotRefresh"/>: the load at start, the bus subscription, the change token and the periodic catch-up.</summary>
public sealed partial class SnapshotRefresher(SnapshotRefresh refresh, IServiceProvider services, TimeProvider time, ILogger<SnapshotRefresher> logger,
    IInvalidationBus? bus) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private IDisposable? _changes;
    private Task? _loop;

    public SnapshotRefresh Refresh => refresh;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (refresh.Topic is { } topic) bus!.Subscribe(topic, ct => ReloadLoggedAsync("a change announced by another replica", ct));
        if (refresh.LoadAtStart)
        {
            await refresh.ReloadAsync(services, cancellationToken);
            if (refresh.Interval is { } every) Loaded(logger, refresh.Name, every);
            else LoadedOnChanges(logger, refresh.Name);
        }
        if (refresh.Changes is { } changes)
        {
            // The reload logs its own failure, so nothing waits for it here.
            _changes = ChangeToken.OnChange(() => changes(services), () => _ = ReloadLoggedAsync("a change of what it is made of", _stopping.Token));
        }
        if (refresh.Interval is { } interval) _loop = CatchUpAsync(interval, _stopping.Token);
    }

    private async Task CatchUpAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                await ReloadLoggedAsync("the periodic catch-up", cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    private async Task ReloadLoggedAsync(string cause, CancellationToken cancellationToken)
    {
        try
        {
            await refresh.ReloadAsync(services, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            ReloadFailed(logger, ex, refresh.Name, cause);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _changes?.Dispose();
        await _stopping.CancelAsync();
        if (_loop is not null) await _loop.WaitAsync(cancellationToken);
    }

    public void Dispose()
    {
        _changes?.Dispose();
        _stopping.Dispose();
    }

    [LoggerMessage(9011, LogLevel.Information, "Loaded {Snapshot}; caught up every {Interval} and on other replicas' changes")]
    private static partial void Loaded(ILogger logger, string snapshot, TimeSpan interval);

    [LoggerMessage(9012, LogLevel.Information, "Loaded {Snapshot}; reloaded when it changes")]
    private static partial void LoadedOnChanges(ILogger logger, string snapshot);

    [LoggerMessage(9010, LogLevel.Warning, "Reloading {Snapshot} after {Cause} failed; the last loaded state stays in use and the next refresh tries again")]
    private static partial void ReloadFailed(ILogger logger, Exception exception, string snapshot, string cause);
}
