using Npgsql;

namespace LlmMarketplace.Access.Tests.Infrastructure;

/// <summary>
/// The storages every storage test runs on: SQLite and PostgreSQL (<c>LLMM_TEST_POSTGRES</c>, required; each test gets a
/// fresh database).
/// </summary>
public static class StorageProviders
{
    public static TheoryData<string> All
    {
        get
        {
            // PostgreSQL always: without LLMM_TEST_POSTGRES its runs fail and say so (they never skip).
            return new TheoryData<string> { "sqlite", "postgres" };
        }
    }

    /// <summary>Host overrides for a storage; for PostgreSQL, a fresh database dropped when the returned handle is disposed.</summary>
    public static async Task<(Dictionary<string, string?> Overrides, IAsyncDisposable Cleanup)> CreateAsync(string provider)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "llmm-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDirectory);
        if (provider == "sqlite")
        {
            return (new Dictionary<string, string?> { ["Storage:DataDirectory"] = dataDirectory }, new Cleanup(async () =>
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                try { Directory.Delete(dataDirectory, true); } catch (IOException) { }
                await Task.CompletedTask;
            }));
        }
        var admin = DistributedKit.Postgres;
        var name = "llmm_test_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        var cs = new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
        return (new Dictionary<string, string?>
        {
            ["Storage:DataDirectory"] = dataDirectory,
            ["Storage:Provider"] = "postgres",
            ["Storage:ConnectionString"] = cs,
        }, new Cleanup(async () =>
        {
            NpgsqlConnection.ClearAllPools();
            await using var connection = new NpgsqlConnection(admin);
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }));
    }

    private sealed class Cleanup(Func<Task> action) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await action();
    }
}
