using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Host.Hosting;

namespace LlmMarketplace.Catalog.Tests.Infrastructure;

/// <summary>Fresh, migrated databases: a SQLite file and a new PostgreSQL database (<c>LLMM_TEST_POSTGRES</c>, required: without it the PostgreSQL runs fail, never skip).</summary>
public static class TestDatabases
{
    public static async Task<Database> CreateAsync(string provider)
    {
        StorageOptions options;
        if (provider == "postgres")
        {
            var created = await TestPostgres.CreateDatabaseAsync("llmm_catalog_");
            options = new StorageOptions { Provider = StorageProvider.Postgres, ConnectionString = created.ConnectionString };
        }
        else
        {
            var dir = Path.Combine(Path.GetTempPath(), "llmm-tests", Guid.NewGuid().ToString("N"));
            options = new StorageOptions { Provider = StorageProvider.Sqlite, DataDirectory = dir };
        }
        var database = new Database(options);
        var result = Migrator.Run(database, MigrationAssemblies.All);
        Assert.True(result.Successful, result.Error);
        return database;
    }
}
