using System.Reflection;
using DbUp;
using DbUp.Engine;
using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Host.Hosting;
using LlmMarketplace.Insights;

namespace LlmMarketplace.Optimizer.Tests;

/// <summary>
/// The optimizer's first tables were made by scripts that Insights shipped. A database migrated before the optimizer
/// became its own module must upgrade without running them again and without losing their rows.
/// </summary>
public sealed class MigrationUpgradeTests
{
    /// <summary>The names the migration journal of such a database holds for the optimizer's scripts.</summary>
    private static readonly string[] ShippedInsideInsights = ["0100_optimizer_feedback.sql", "0101_optimizer_experiments.sql"];

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_database_migrated_when_the_optimizer_was_part_of_insights_upgrades_without_rerunning_or_losing_its_tables(string provider)
    {
        var (database, drop) = await FreshDatabaseAsync(provider);
        try
        {
            database.EnsureDirectory();
            var dialect = provider == "postgres" ? "postgres" : "sqlite";
            // The Insights module's migrations as they were: its own scripts and the optimizer's, journaled under Insights names.
            var insights = typeof(InsightsExtensions).Assembly;
            var optimizer = typeof(OptimizerExtensions).Assembly;
            var scripts = insights.GetManifestResourceNames()
                .Where(n => n.Contains($".Migrations.{dialect}.", StringComparison.Ordinal))
                .Select(n => new SqlScript(n, Read(insights, n)))
                .Concat(ShippedInsideInsights.Select(file => new SqlScript(
                    $"LlmMarketplace.Insights.Migrations.{dialect}.{file}",
                    Read(optimizer, optimizer.GetManifestResourceNames().Single(n => n.EndsWith($".Migrations.{dialect}.{file}", StringComparison.Ordinal))))))
                .ToList();
            var builder = provider == "postgres"
                ? DeployChanges.To.PostgresqlDatabase(database.ConnectionString)
                : DeployChanges.To.SqliteDatabase(database.ConnectionString);
            var old = builder.WithScripts(scripts).WithTransactionPerScript().Build().PerformUpgrade();
            Assert.True(old.Successful, old.Error?.Message);

            await using (var connection = await database.OpenAsync())
            await using (var insert = connection.CreateCommand())
            {
                insert.CommandText = """
                    INSERT INTO insights_feedback (request_id, model, score, cost_usd, latency_ms, status, created_ms, updated_ms)
                    VALUES ('req-before-upgrade', 'smart', 0.75, 0, 12, 200, 1, 1)
                    """;
                await insert.ExecuteNonQueryAsync();
            }

            var upgrade = Migrator.Run(database, MigrationAssemblies.All);

            Assert.True(upgrade.Successful, upgrade.Error);
            Assert.DoesNotContain(upgrade.Applied, name => ShippedInsideInsights.Any(file => name.EndsWith(file, StringComparison.Ordinal)));
            await using (var connection = await database.OpenAsync())
            await using (var select = connection.CreateCommand())
            {
                select.CommandText = "SELECT score FROM insights_feedback WHERE request_id = 'req-before-upgrade'";
                Assert.Equal(0.75, Convert.ToDouble(await select.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture));
            }
            // A second run finds nothing left to do.
            Assert.Empty(Migrator.Run(database, MigrationAssemblies.All).Applied);
        }
        finally
        {
            await database.DisposeAsync();
            await drop();
        }
    }

    private static string Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>An empty database (not migrated); the returned function drops it.</summary>
    internal static async Task<(Database Database, Func<Task> Drop)> FreshDatabaseAsync(string provider)
    {
        if (provider == "sqlite")
        {
            var dir = Path.Combine(Path.GetTempPath(), "llmm-tests", Guid.NewGuid().ToString("N"));
            return (new Database(new StorageOptions { Provider = StorageProvider.Sqlite, DataDirectory = dir }), () =>
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                try { Directory.Delete(dir, true); } catch (IOException) { }
                return Task.CompletedTask;
            });
        }
        var database = await TestPostgres.CreateDatabaseAsync("llmm_opt_");
        return (new Database(new StorageOptions { Provider = StorageProvider.Postgres, ConnectionString = database.ConnectionString }), async () => await database.DisposeAsync());
    }
}
