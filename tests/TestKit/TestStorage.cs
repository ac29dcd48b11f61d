using System.Reflection;
using Xunit.Sdk;

namespace LlmMarketplace.TestKit;

/// <summary>
/// The storages every storage test runs on: SQLite and PostgreSQL (<c>LLMM_TEST_POSTGRES</c>, required: without it the
/// PostgreSQL runs fail and say so, they never skip). Each test gets a fresh data directory and database.
/// </summary>
public static class TestStorage
{
    public static TheoryData<string> All => new() { "sqlite", "postgres" };

    /// <summary>A fresh storage of <paramref name="provider"/> (hosts given its overrides share it); disposing it drops it.</summary>
    public static async Task<StorageUnderTest> CreateAsync(string provider)
    {
        var dataDirectory = TestPaths.NewDirectory();
        if (provider == "sqlite")
        {
            return new StorageUnderTest(new Dictionary<string, string?> { ["Storage:DataDirectory"] = dataDirectory }, dataDirectory, database: null);
        }
        var database = await TestPostgres.CreateDatabaseAsync();
        var overrides = database.Overrides();
        overrides["Storage:DataDirectory"] = dataDirectory;
        return new StorageUnderTest(overrides, dataDirectory, database);
    }
}

/// <summary>A storage of a test's own: the host overrides that select it, its data directory and, on PostgreSQL, its database.</summary>
public sealed class StorageUnderTest : IAsyncDisposable
{
    private readonly string _dataDirectory;
    private readonly TestDatabase? _database;

    internal StorageUnderTest(Dictionary<string, string?> overrides, string dataDirectory, TestDatabase? database)
    {
        Overrides = overrides;
        _dataDirectory = dataDirectory;
        _database = database;
    }

    /// <summary>Host overrides that put a host's storage here; a test may add its own settings to them.</summary>
    public Dictionary<string, string?> Overrides { get; }

    public async ValueTask DisposeAsync()
    {
        if (_database is not null) await _database.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dataDirectory, true); } catch (IOException) { }
    }
}

/// <summary>Runs a theory once per storage of <see cref="TestStorage.All"/>, passing its name (<c>sqlite</c>, <c>postgres</c>).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class OnEachStorageAttribute : DataAttribute
{
    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => TestStorage.All;
}
