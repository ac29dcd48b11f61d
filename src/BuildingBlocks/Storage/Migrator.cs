using System.Reflection;
using DbUp;
using DbUp.Engine;
using DbUp.Engine.Output;

namespace LlmMarketplace.BuildingBlocks.Storage;

/// <summary>
/// Applies the versioned SQL migrations that modules embed as resources named
/// <c>*.Migrations.{sqlite|postgres}.NNNN_name.sql</c>, one journal per database.
/// </summary>
public static class Migrator
{
    public static MigrationResult Run(Database database, IEnumerable<Assembly> assemblies, IUpgradeLog? log = null)
    {
        var dialect = database.Provider == StorageProvider.Postgres ? ".Migrations.postgres." : ".Migrations.sqlite.";
        var builder = database.Provider == StorageProvider.Postgres
            ? DeployChanges.To.PostgresqlDatabase(database.ConnectionString)
            : DeployChanges.To.SqliteDatabase(database.ConnectionString);

        foreach (var assembly in assemblies.Distinct())
        {
            builder = builder.WithScriptsEmbeddedInAssembly(assembly, name => name.Contains(dialect, StringComparison.Ordinal));
        }

        var upgrader = builder
            .WithTransactionPerScript()
            .LogTo(log ?? new NoOpUpgradeLog())
            .Build();

        var result = upgrader.PerformUpgrade();
        return new MigrationResult(
            result.Successful,
            result.Scripts.Select(static s => s.Name).ToArray(),
            result.Error?.Message);
    }

    private sealed class NoOpUpgradeLog : IUpgradeLog
    {
        public void LogTrace(string format, params object[] args) { }
        public void LogDebug(string format, params object[] args) { }
        public void LogInformation(string format, params object[] args) { }
        public void LogWarning(string format, params object[] args) { }
        public void LogError(string format, params object[] args) { }
        public void LogError(Exception ex, string format, params object[] args) { }
    }
}

public sealed record MigrationResult(bool Successful, IReadOnlyList<string> Applied, string? Error);
