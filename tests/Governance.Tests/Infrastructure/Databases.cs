using Npgsql;

namespace LlmMarketplace.Governance.Tests.Infrastructure;

/// <summary>The databases storage tests run against: SQLite always, PostgreSQL when <c>LLMM_TEST_POSTGRES</c> holds a connection string.</summary>
public static class Databases
{
    public static string? Postgres => Environment.GetEnvironmentVariable("LLMM_TEST_POSTGRES") is { Length: > 0 } cs ? cs : null;

    public static TheoryData<string> Providers()
    {
        var data = new TheoryData<string> { "sqlite" };
        if (Postgres is not null) data.Add("postgres");
        return data;
    }

    /// <summary>Configuration overrides for a fresh, empty database of the provider.</summary>
    public static async Task<Dictionary<string, string?>> FreshAsync(string provider)
    {
        if (provider == "sqlite")
        {
            return new Dictionary<string, string?>();
        }
        var name = "llmm_gov_" + Guid.NewGuid().ToString("N")[..12];
        await using (var admin = new NpgsqlConnection(Postgres))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync();
        }
        var builder = new NpgsqlConnectionStringBuilder(Postgres) { Database = name };
        return new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "postgres",
            ["Storage:ConnectionString"] = builder.ConnectionString,
        };
    }
}
