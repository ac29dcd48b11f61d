using Npgsql;

namespace LlmMarketplace.TestKit;

/// <summary>
/// The PostgreSQL the test script starts (<c>LLMM_TEST_POSTGRES</c>) and throwaway databases in it, one per test. A test
/// that needs it never skips: without the variable it fails and says how to get it.
/// </summary>
public static class TestPostgres
{
    public const string Variable = "LLMM_TEST_POSTGRES";

    /// <summary>The administrative connection string (to the <c>llmm_test</c> database as the superuser).</summary>
    public static string Admin => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException(
            $"{Variable} is not set: this test runs on PostgreSQL. Run the tests with scripts/test.sh, which starts PostgreSQL and sets it.");

    /// <summary>Creates an empty database named <paramref name="prefix"/> plus a unique suffix; disposing it drops it.</summary>
    public static async Task<TestDatabase> CreateDatabaseAsync(string prefix = "llmm_test_")
    {
        var admin = Admin;
        var name = prefix + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        return new TestDatabase(admin, name);
    }
}

/// <summary>A throwaway PostgreSQL database, dropped (with its connections) on dispose.</summary>
public sealed class TestDatabase(string admin, string name) : IAsyncDisposable
{
    public string Name { get; } = name;

    public string ConnectionString { get; } = new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;

    /// <summary>Host overrides that put the host's storage in this database.</summary>
    public Dictionary<string, string?> Overrides() => new()
    {
        ["Storage:Provider"] = "postgres",
        ["Storage:ConnectionString"] = ConnectionString,
    };

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
