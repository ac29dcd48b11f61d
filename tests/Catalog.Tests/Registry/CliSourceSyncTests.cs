using Dapper;
using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Host.Commands;

namespace LlmMarketplace.Catalog.Tests.Registry;

/// <summary><c>catalog sync NAME</c>: the command line syncs a registry source the way the API does, audited with the CLI as its actor.</summary>
public sealed class CliSourceSyncTests
{
    [Theory]
    [OnEachStorage]
    public async Task The_cli_syncs_a_source_previews_a_change_and_is_audited(string provider)
    {
        await using var database = await TestDatabases.CreateAsync(provider);
        var dir = TestPaths.NewDirectory();
        var source = Path.Combine(dir, "models.json");
        var config = Path.Combine(dir, "config.json");
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new
        {
            Storage = new { Provider = provider, database.ConnectionString },
            Catalog = new
            {
                // Searching is not what this test is about: no embedding model is loaded by the command.
                Embeddings = new { Enabled = false },
                Sources = new[]
                {
                    new { Name = "registry", Url = source, Format = "openrouter", IntervalMinutes = 0, Deployments = new[] { new { Provider = "loop", BaseUrl = "http://127.0.0.1:9/v1" } } },
                },
            },
        }));
        string[] Sync(params string[] extra) => ["catalog", "sync", .. extra, "--config", config, "--data", dir];

        await File.WriteAllTextAsync(source, Models(("cli/alpha", "0.000001"), ("cli/beta", "0.000001")));
        Assert.Equal(0, await CliCommands.Create().Parse(Sync("registry")).InvokeAsync());
        Assert.Equal(["1.0.0", "1.0.0"], await VersionsAsync(database));

        // A changed price previewed by a dry run changes nothing; the real sync makes a new version.
        await File.WriteAllTextAsync(source, Models(("cli/alpha", "0.000001"), ("cli/beta", "0.000004")));
        Assert.Equal(0, await CliCommands.Create().Parse(Sync("registry", "--dry-run")).InvokeAsync());
        Assert.Equal(["1.0.0", "1.0.0"], await VersionsAsync(database));
        Assert.Equal(0, await CliCommands.Create().Parse(Sync("registry")).InvokeAsync());
        Assert.Equal(["1.0.0", "1.0.0", "1.1.0"], await VersionsAsync(database));

        // An unknown source is refused with the configuration error's exit code, and nothing is synced.
        Assert.Equal(2, await CliCommands.Create().Parse(Sync("nonesuch")).InvokeAsync());

        await using var c = await database.OpenAsync();
        var synced = (await c.QueryAsync<(string ActorId, string? AfterJson)>(
            "SELECT actor_id, after_json FROM gov_audit WHERE action = 'catalog.source.synced' ORDER BY seq")).AsList();
        Assert.Equal(2, synced.Count);
        Assert.All(synced, static e => Assert.Equal("cli", e.ActorId));
        Assert.Contains("2 created", synced[0].AfterJson, StringComparison.Ordinal);
        Assert.Contains("1 updated", synced[1].AfterJson, StringComparison.Ordinal);
    }

    private static async Task<string[]> VersionsAsync(Database database)
    {
        await using var c = await database.OpenAsync();
        return [.. (await c.QueryAsync<string>(
            "SELECT v.version FROM catalog_versions v JOIN catalog_services s ON s.id = v.service_id WHERE s.slug LIKE 'cli/%' AND v.state = 'published'"))
            .Order(StringComparer.Ordinal)];
    }

    private static string Models(params (string Id, string Prompt)[] models) => JsonSerializer.Serialize(new
    {
        data = models.Select(static m => new
        {
            id = m.Id,
            name = m.Id,
            description = "A model of the registry.",
            context_length = 8192,
            architecture = new { input_modalities = new[] { "text" }, output_modalities = new[] { "text" } },
            pricing = new { prompt = m.Prompt, completion = "0.000002" },
        }),
    });
}
