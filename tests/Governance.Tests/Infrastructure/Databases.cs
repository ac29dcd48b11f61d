using LlmMarketplace.TestKit;

namespace LlmMarketplace.Governance.Tests.Infrastructure;

/// <summary>The databases storage tests run against: SQLite and PostgreSQL (<c>LLMM_TEST_POSTGRES</c>, required: without it the PostgreSQL runs fail, never skip).</summary>
public static class Databases
{
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
        var database = await TestPostgres.CreateDatabaseAsync("llmm_gov_");
        return database.Overrides();
    }
}
