using Microsoft.Extensions.Logging;

namespace LlmMarketplace.BuildingBlocks.Hosting;

/// <summary>
/// Says that work was written for a worker (usage committed, an event appended, a delivery enqueued): the writer raises it
/// and the <see cref="SignalledWorker"/> doing that work wakes at once rather than at the end of its interval.
/// </summary>
public sealed class WorkSignal
{
    private event Action? Raised;

    public void Raise() => Raised?.Invoke();

    internal void Subscribe(Action wake) => Raised += wake;

    internal void Unsubscribe(Action wake) => Raised -= wake;
}

/// <summary>A <see cref="PeriodicWorker"/> that also runs a round whenever its <see cref="WorkSignal"/> is raised, from start until stop.</summary>
public abstract class SignalledWorker(WorkSignal signal, TimeProvider time, ILogger logger) : PeriodicWorker(time, logger)
{
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        signal.Subscribe(Wake);
        return base.StartAsync(cancellationToken);
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        signal.Unsubscribe(Wake);
        return base.StopAsync(cancellationToken);
    }
}
