namespace LlmMarketplace.Governance.Tests.Infrastructure;

/// <summary>Fresh databases for the storage tests (<c>[OnEachStorage]</c>: SQLite and PostgreSQL, <c>LLMM_TEST_POSTGRES</c> required, never skipped).</summary>
public static class Databases
{
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
