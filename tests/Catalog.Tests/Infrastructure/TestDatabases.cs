using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Host.Hosting;
using Npgsql;

namespace LlmMarketplace.Catalog.Tests.Infrastructure;

/// <summary>Fresh, migrated databases: a SQLite file and a new PostgreSQL database (<c>LLMM_TEST_POSTGRES</c>, required: without it the PostgreSQL runs fail, never skip).</summary>
public static class TestDatabases
{
    public static IEnumerable<object[]> Providers()
    {
        yield return ["sqlite"];
        yield return ["postgres"];
    }

    public static async Task<Database> CreateAsync(string provider)
    {
        StorageOptions options;
        if (provider == "postgres")
        {
            var admin = new NpgsqlConnectionStringBuilder(Environment.GetEnvironmentVariable("LLMM_TEST_POSTGRES") is { Length: > 0 } cs ? cs
                : throw new InvalidOperationException("LLMM_TEST_POSTGRES is not set: this test runs on PostgreSQL too. Run the tests with scripts/test.sh, which starts PostgreSQL and sets it."));
            var name = "llmm_catalog_" + Guid.NewGuid().ToString("N");
            await using (var connection = new NpgsqlConnection(admin.ConnectionString))
            {
                await connection.OpenAsync();
                await using var command = connection.CreateCommand();
                command.CommandText = $"CREATE DATABASE {name}";
                await command.ExecuteNonQueryAsync();
            }
            admin.Database = name;
            options = new StorageOptions { Provider = StorageProvider.Postgres, ConnectionString = admin.ConnectionString };
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
