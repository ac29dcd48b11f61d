using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LlmMarketplace.BuildingBlocks.Hosting;

/// <summary>
/// The one way a module runs work in the background: a round at start (or after one interval), then a round every
/// <see cref="Interval"/> or as soon as <see cref="Wake"/> is called, whichever comes first. A round that fails is logged
/// and the next one runs after <see cref="RetryDelay"/>: the loop stays alive until the host stops, and stopping cancels
/// the wait and the round in progress.
/// </summary>
public abstract partial class PeriodicWorker : BackgroundService
{
    private readonly SemaphoreSlim _wake = new(0, 1);

    protected PeriodicWorker(TimeProvider time, ILogger logger)
    {
        Time = time;
        Logger = logger;
    }

    /// <summary>The clock the waits run on.</summary>
    protected TimeProvider Time { get; }

    protected ILogger Logger { get; }

    /// <summary>The longest wait between two rounds.</summary>
    protected abstract TimeSpan Interval { get; }

    /// <summary>The wait after a failed round; <see cref="Interval"/> unless a worker backs off differently.</summary>
    protected virtual TimeSpan RetryDelay => Interval;

    /// <summary>False to wait one <see cref="Interval"/> before the first round.</summary>
    protected virtual bool RunAtStart => true;

    /// <summary>
    /// The shortest time from the end of one round to the start of the next, even when woken: a burst of wakes is folded
    /// into one round.
    /// Measured on the real clock, so a test's fake clock never holds the worker back.
    /// </summary>
    protected virtual TimeSpan MinimumGap => TimeSpan.Zero;

    /// <summary>One round of work.</summary>
    protected abstract Task RunAsync(CancellationToken cancellationToken);

    /// <summary>Logs a failed round; workers with their own log event override it.</summary>
    protected virtual void OnFailed(Exception exception) => RoundFailed(Logger, exception, GetType().Name, RetryDelay);

    /// <summary>Runs the next round now rather than at the end of the wait (several calls before it starts run it once).</summary>
    public void Wake()
    {
        if (_wake.CurrentCount > 0) return;
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // another caller woke it first
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            if (!RunAtStart) await WaitAsync(Interval, stoppingToken);
            while (!stoppingToken.IsCancellationRequested)
            {
                var failed = false;
                try
                {
                    await RunAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    failed = true;
                    OnFailed(ex);
                }
                var endedAt = Stopwatch.GetTimestamp();
                await WaitAsync(failed ? RetryDelay : Interval, stoppingToken);
                var since = Stopwatch.GetElapsedTime(endedAt);
                if (since < MinimumGap) await Task.Delay(MinimumGap - since, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping
        }
    }

    private async Task WaitAsync(TimeSpan delay, CancellationToken stoppingToken)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        await Task.WhenAny(Task.Delay(delay, Time, wait.Token), _wake.WaitAsync(wait.Token));
        await wait.CancelAsync();
        stoppingToken.ThrowIfCancellationRequested();
    }

    public override void Dispose()
    {
        base.Dispose();
        _wake.Dispose();
        GC.SuppressFinalize(this);
    }

    [LoggerMessage(9020, LogLevel.Error, "A round of {Worker} failed; it runs again in {RetryDelay}")]
    private static partial void RoundFailed(ILogger logger, Exception exception, string worker, TimeSpan retryDelay);
}
