using System.Data.Common;
using Dapper;
using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.TestKit;

namespace LlmMarketplace.Gateway.Tests.Foundations;

/// <summary>
/// Writers of the embedded database take turns in the process (they wait without a thread, and start when the writer
/// before them closes its connection) instead of sleeping in SQLite's busy handler; on PostgreSQL nothing is held.
/// </summary>
public sealed class WriterTurnTests : IAsyncDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private readonly string _directory = Directory.CreateTempSubdirectory("llmm-writers-").FullName;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_second_sqlite_writer_waits_until_the_first_connection_is_disposed(bool disposeAsynchronously)
    {
        await using var database = new Database(new StorageOptions { DataDirectory = _directory });
        var first = await database.OpenForWriteAsync();
        await first.ExecuteAsync("CREATE TABLE IF NOT EXISTS t (v INTEGER)");
        await first.ExecuteAsync("INSERT INTO t (v) VALUES (1)");

        var second = database.OpenForWriteAsync();
        Assert.False(second.IsCompleted, "the second writer must wait for the first one's turn");

        // Readers are not writers: they never wait for the turn.
        await using (var reader = await database.OpenAsync().WaitAsync(Deadline))
        {
            Assert.Equal(1, await reader.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM t"));
        }
        Assert.False(second.IsCompleted);

        if (disposeAsynchronously) await first.DisposeAsync();
        else first.Dispose();

        await using var next = await second.WaitAsync(Deadline);
        await next.ExecuteAsync("INSERT INTO t (v) VALUES (2)");
        Assert.Equal(2, await next.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM t"));
    }

    [Fact]
    public async Task Concurrent_sqlite_writers_all_commit()
    {
        await using var database = new Database(new StorageOptions { DataDirectory = _directory });
        await using (var setup = await database.OpenForWriteAsync())
        {
            await setup.ExecuteAsync("CREATE TABLE IF NOT EXISTS t (v INTEGER)");
        }
        await Task.WhenAll(Enumerable.Range(0, 32).Select(i => Task.Run(async () =>
        {
            await using var connection = await database.OpenForWriteAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            await connection.ExecuteAsync("INSERT INTO t (v) VALUES (@i)", new { i }, transaction);
            await connection.ExecuteAsync("INSERT INTO t (v) VALUES (@i)", new { i }, transaction);
            await transaction.CommitAsync();
        }))).WaitAsync(Deadline);
        await using var reader = await database.OpenAsync();
        Assert.Equal(64, await reader.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM t"));
    }

    [Fact]
    public async Task A_writer_that_fails_to_open_gives_its_turn_back()
    {
        // A directory where the database file should be: opening fails.
        Directory.CreateDirectory(Path.Combine(_directory, Database.SqliteFileName));
        await using var database = new Database(new StorageOptions { DataDirectory = _directory });
        await Assert.ThrowsAnyAsync<DbException>(() => database.OpenForWriteAsync());
        Directory.Delete(Path.Combine(_directory, Database.SqliteFileName));
        await using var connection = await database.OpenForWriteAsync().WaitAsync(Deadline);
        await connection.ExecuteAsync("CREATE TABLE t (v INTEGER)");
    }

    [Fact]
    public async Task PostgreSQL_writers_do_not_wait_for_each_other()
    {
        await using var db = await TestPostgres.CreateDatabaseAsync();
        await using var database = new Database(new StorageOptions { Provider = StorageProvider.Postgres, ConnectionString = db.ConnectionString });
        await using var first = await database.OpenForWriteAsync();
        await using var second = await database.OpenForWriteAsync().WaitAsync(Deadline);
        Assert.Equal(1, await second.ExecuteScalarAsync<int>("SELECT 1"));
    }

    public ValueTask DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
        return ValueTask.CompletedTask;
    }
}
