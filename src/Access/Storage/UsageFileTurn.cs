namespace LlmMarketplace.Access.Storage;

/// <summary>
/// The usage file's writer turn: every usage commit holds it (<see cref="AccessStore.InsertUsageBatchAsync"/>, whoever
/// writes: the usage writer, the spool's delivery), and <c>UsageCheckpointer</c> holds it for the last, short round of
/// a checkpoint, so that the round finds no commit in progress and the log can start again from its beginning. Only the
/// embedded database has such a log; on PostgreSQL taking the turn is free.
/// </summary>
internal sealed class UsageFileTurn(bool needed)
{
    private readonly SemaphoreSlim _turn = new(1, 1);
    private readonly bool _needed = needed;
    private long _taken;

    /// <summary>How many times the turn has been taken: unchanged means nothing was written to the file since.</summary>
    public long Taken => Interlocked.Read(ref _taken);

    /// <summary>Waits for the turn; disposing the result gives it back. Null (nothing to give back) on PostgreSQL.</summary>
    public async ValueTask<IDisposable?> TakeAsync(CancellationToken cancellationToken)
    {
        if (!_needed) return null;
        Interlocked.Increment(ref _taken);
        await _turn.WaitAsync(cancellationToken);
        return new Held(_turn);
    }

    private sealed class Held(SemaphoreSlim turn) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) turn.Release();
        }
    }
}
