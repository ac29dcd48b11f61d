namespace LlmMarketplace.BuildingBlocks.Distributed;

/// <summary>
/// The one way a module keeps stored state in memory on every replica: <see cref="RefreshAsync"/> loads it again (one
/// load at a time), <see cref="ReloadAsync"/> does so after a change made here and tells the other replicas on
/// <c>topic</c>, so that they reload at once rather than at their next refresh.
/// </summary>
public abstract class ReplicatedSnapshot(string topic, IInvalidationBus? bus)
{
    private readonly SemaphoreSlim _reload = new(1, 1);

    /// <summary>Reloads after a change made here, and tells the other replicas to reload too.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken = default)
    {
        await RefreshAsync(cancellationToken);
        if (bus is not null) await bus.PublishAsync(topic);
    }

    /// <summary>Reloads from storage without telling anyone (start, the periodic refresh, another replica's message).</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken = default)
    {
        await _reload.WaitAsync(cancellationToken);
        try
        {
            await LoadAsync(cancellationToken);
        }
        finally
        {
            _reload.Release();
        }
    }

    /// <summary>Reads the state and swaps the snapshot in; never runs twice at once.</summary>
    protected abstract Task LoadAsync(CancellationToken cancellationToken);
}
