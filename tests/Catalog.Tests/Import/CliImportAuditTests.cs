using Dapper;
using LlmMarketplace.Host.Commands;

namespace LlmMarketplace.Catalog.Tests.Import;

/// <summary>An import by the command line leaves the same audit trail as one by the API, with the CLI as its actor, on SQLite and PostgreSQL.</summary>
public sealed class CliImportAuditTests
{
    [Theory]
    [OnEachStorage]
    public async Task A_cli_import_is_audited_as_the_cli_with_each_version_it_published(string provider)
    {
        await using var database = await TestDatabases.CreateAsync(provider);
        var dir = TestPaths.NewDirectory();
        var config = Path.Combine(dir, "config.json");
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new
        {
            Storage = new { Provider = provider, database.ConnectionString },
        }));

        Assert.Equal(0, await CliCommands.Create().Parse(["catalog", "import", CatalogData.OpenRouterFile, "--config", config, "--data", dir]).InvokeAsync());

        await using var c = await database.OpenAsync();
        var entries = (await c.QueryAsync<(string Action, string ActorId, string? AfterJson)>(
            "SELECT action, actor_id, after_json FROM gov_audit WHERE action IN ('catalog.imported', 'catalog.version.published') ORDER BY seq")).AsList();
        var imported = Assert.Single(entries, static e => e.Action == "catalog.imported");
        Assert.Equal("cli", imported.ActorId);
        Assert.Contains("364 created", imported.AfterJson, StringComparison.Ordinal);
        var published = entries.Where(static e => e.Action == "catalog.version.published").ToList();
        Assert.Equal(364, published.Count);
        Assert.All(published, static e => Assert.Equal("cli", e.ActorId));
    }
}
