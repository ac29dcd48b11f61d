using Npgsql;

namespace LlmMarketplace.Governance.Tests.Infrastructure;

/// <summary>The databases storage tests run against: SQLite and PostgreSQL (<c>LLMM_TEST_POSTGRES</c>, required: without it the PostgreSQL runs fail, never skip).</summary>
public static class Databases
{
    public static string? Postgres => Environment.GetEnvironmentVariable("LLMM_TEST_POSTGRES") is { Length: > 0 } cs ? cs : null;

    public static TheoryData<string> Providers()
    {
        return new TheoryData<string> { "sqlite", "postgres" };
    }

    /// <summary>Configuration overrides for a fresh, empty database of the provider.</summary>
    public static async Task<Dictionary<string, string?>> FreshAsync(string provider)
    {
        if (provider == "sqlite")
        {
            return new Dictionary<string, string?>();
        }
        var postgres = Postgres ?? throw new InvalidOperationException("LLMM_TEST_POSTGRES is not set: this test runs on PostgreSQL too. Run the tests with scripts/test.sh, which starts PostgreSQL and sets it.");
        var name = "llmm_gov_" + Guid.NewGuid().ToString("N")[..12];
        await using (var admin = new NpgsqlConnection(postgres))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync();
        }
        var builder = new NpgsqlConnectionStringBuilder(postgres) { Database = name };
        return new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "postgres",
            ["Storage:ConnectionString"] = builder.ConnectionString,
        };
    }
}
