using Npgsql;

namespace LlmMarketplace.Insights.Tests.Infrastructure;

/// <summary>
/// The storages every storage test runs on: SQLite always, PostgreSQL too when <c>LLMM_TEST_POSTGRES</c> holds a
/// connection string (each test gets a fresh database).
/// </summary>
public static class TestStorage
{
    public static TheoryData<string> All
    {
        get
        {
            var data = new TheoryData<string> { "sqlite" };
            if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("LLMM_TEST_POSTGRES"))) data.Add("postgres");
            return data;
        }
    }

    /// <summary>Host overrides for a storage (hosts given the same overrides share it); disposing drops it.</summary>
    public static async Task<(Dictionary<string, string?> Overrides, IAsyncDisposable Cleanup)> CreateAsync(string provider)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "llmm-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDirectory);
        if (provider == "sqlite")
        {
            return (new Dictionary<string, string?> { ["Storage:DataDirectory"] = dataDirectory }, new Cleanup(() =>
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                try { Directory.Delete(dataDirectory, true); } catch (IOException) { }
                return Task.CompletedTask;
            }));
        }
        var admin = Environment.GetEnvironmentVariable("LLMM_TEST_POSTGRES")!;
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
