using System.Data.Common;

namespace LlmMarketplace.BuildingBlocks.Storage;

/// <summary>
/// The embedded database's writers, one at a time, in the order they asked. A turn not given back within
/// <see cref="MaxWait"/> (a long import, say) stops being waited for: the waiter goes on, and SQLite's own lock and busy
/// timeout decide, as they did without the turn. A write connection must not open a second one while it is open.
/// </summary>
internal sealed class SqliteWriterTurn
{
    /// <summary>As long as SQLite's busy timeout: waiting longer would only turn a busy error into a slower one.</summary>
    internal static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _gate = new(1, 1);
    public async ValueTask<Lease> WaitAsync(CancellationToken cancellationToken)
    {
        return await _gate.WaitAsync(MaxWait, cancellationToken) ? new Lease(this) : default;
    }

    /// <summary>A held turn (or none, the default); given back once, by <see cref="Release"/> or the connection's disposal.</summary>
    public readonly struct Lease(SqliteWriterTurn? owner)
    {
        private readonly Holder? _holder = owner is null ? null : new Holder(owner);

        public void ReleaseWhenDisposed(DbConnection connection)
        {
            if (_holder is { } holder) connection.Disposed += holder.OnDisposed;
        }

        public void Release() => _holder?.Release();
    }

    private sealed class Holder(SqliteWriterTurn owner)
    {
        private int _released;

        public void OnDisposed(object? sender, EventArgs e) => Release();

        public void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) owner._gate.Release();
        }
    }
}
