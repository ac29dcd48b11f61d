namespace LlmMarketplace.TestKit;

/// <summary>
/// The storages every storage test runs on: SQLite and PostgreSQL (<c>LLMM_TEST_POSTGRES</c>, required: without it the
/// PostgreSQL runs fail and say so, they never skip). Each test gets a fresh data directory and database.
/// </summary>
public static class TestStorage
{
    public static TheoryData<string> All => new() { "sqlite", "postgres" };

    /// <summary>Host overrides for a storage (hosts given the same overrides share it); disposing the handle drops it.</summary>
    public static async Task<(Dictionary<string, string?> Overrides, IAsyncDisposable Cleanup)> CreateAsync(string provider)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "llmm-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDirectory);
        var directory = new Cleanup(() =>
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(dataDirectory, true); } catch (IOException) { }
            return Task.CompletedTask;
        });
        if (provider == "sqlite")
        {
            return (new Dictionary<string, string?> { ["Storage:DataDirectory"] = dataDirectory }, directory);
        }
        var database = await TestPostgres.CreateDatabaseAsync();
        var overrides = database.Overrides();
        overrides["Storage:DataDirectory"] = dataDirectory;
        return (overrides, new Cleanup(async () =>
        {
            await database.DisposeAsync();
            await directory.DisposeAsync();
        }));
    }

    private sealed class Cleanup(Func<Task> action) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await action();
    }
}
