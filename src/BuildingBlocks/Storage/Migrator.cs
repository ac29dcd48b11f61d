using System.Reflection;
using DbUp;
using DbUp.Engine;
using DbUp.Engine.Output;
using DbUp.Sqlite.Helpers;
using Microsoft.Data.Sqlite;

namespace LlmMarketplace.BuildingBlocks.Storage;

/// <summary>
/// Applies the versioned SQL migrations that modules embed as resources named
/// <c>*.Migrations.{sqlite|postgres}.NNNN_name.sql</c>, one journal per database.
/// </summary>
public static class Migrator
{
    public static MigrationResult Run(Database database, IEnumerable<Assembly> assemblies, IUpgradeLog? log = null)
    {
        database.EnsureDirectory();
        // The embedded database's migrations run on a connection with the tables' own files attached, so a script
        // finds a table wherever it lives (see Database.OwnFiles).
        SqliteConnection? embedded;
        try
        {
            embedded = database.Provider == StorageProvider.Sqlite && database.EmbeddedFile is not null ? database.OpenForMigrations() : null;
        }
        catch (SqliteException ex)
        {
            return new MigrationResult(false, [], ex.Message);
        }
        using var attached = embedded;
        var upgrader = Upgrader(database, assemblies, log, embedded);

        // Replicas that start together on PostgreSQL take turns: the first applies the pending scripts while the others
        // wait on a session advisory lock, then find nothing left to do. (SQLite is one process's file.)
        MigrationLock? turn = null;
        if (database.Provider == StorageProvider.Postgres)
        {
            try
            {
                turn = MigrationLock.Take(database.ConnectionString);
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
            {
                return new MigrationResult(false, [], ex.Message);
            }
        }
        using var held = turn;
        var result = upgrader.PerformUpgrade();
        if (result.Successful && embedded is not null)
        {
            try
            {
                OwnFileMove.Run(embedded);
            }
            catch (Exception ex) when (ex is SqliteException or InvalidOperationException)
            {
                return new MigrationResult(false, result.Scripts.Select(static s => s.Name).ToArray(), ex.Message);
            }
        }
        return new MigrationResult(
            result.Successful,
            result.Scripts.Select(static s => s.Name).ToArray(),
            result.Error?.Message);
    }

    /// <summary>
    /// Where the schema stands, found without writing anything (no file, directory or journal table is created), for
    /// commands that only read: <see cref="SchemaState.Missing"/> when there is no embedded database file or no migration
    /// has run, else how many migrations are pending.
    /// </summary>
    public static (SchemaState State, int Pending) Inspect(Database database, IEnumerable<Assembly> assemblies)
    {
        if (database.EmbeddedFile is { } file && !File.Exists(file)) return (SchemaState.Missing, 0);
        var upgrader = Upgrader(database, assemblies, null);
        if (upgrader.GetExecutedScripts().Count == 0) return (SchemaState.Missing, 0);
        var pending = upgrader.GetScriptsToExecute().Count;
        if (database.EmbeddedFile is not null) pending += OwnFileMove.Pending(database);
        return (pending == 0 ? SchemaState.Current : SchemaState.Pending, pending);
    }

    private static UpgradeEngine Upgrader(Database database, IEnumerable<Assembly> assemblies, IUpgradeLog? log, SqliteConnection? embedded = null)
    {
        var dialect = database.Provider == StorageProvider.Postgres ? ".Migrations.postgres." : ".Migrations.sqlite.";
        var builder = database.Provider == StorageProvider.Postgres
            ? DeployChanges.To.PostgresqlDatabase(database.ConnectionString)
            : embedded is not null
                ? DeployChanges.To.SqliteDatabase(new SharedConnection(embedded))
                : DeployChanges.To.SqliteDatabase(database.ConnectionString);

        foreach (var assembly in assemblies.Distinct())
        {
            builder = builder.WithScriptsEmbeddedInAssembly(assembly, name => name.Contains(dialect, StringComparison.Ordinal));
        }

        return builder
            .WithTransactionPerScript()
            .LogTo(log ?? new NoOpUpgradeLog())
            .Build();
    }

    /// <summary>A PostgreSQL session advisory lock held for the whole migration run; released when disposed (or when the session ends).</summary>
    private sealed class MigrationLock : IDisposable
    {
        // Any fixed 64-bit number: "LLMMIGR1" in ASCII.
        private const long Key = 0x4C4C4D4D49475231;
        private readonly Npgsql.NpgsqlConnection _connection;

        private MigrationLock(Npgsql.NpgsqlConnection connection) => _connection = connection;

        public static MigrationLock Take(string connectionString)
        {
            var connection = new Npgsql.NpgsqlConnection(connectionString);
            try
            {
                connection.Open();
                using var command = new Npgsql.NpgsqlCommand("SELECT pg_advisory_lock(@key)", connection);
                command.Parameters.AddWithValue("key", Key);
                command.CommandTimeout = 0;
                command.ExecuteNonQuery();
                return new MigrationLock(connection);
            }
            catch
            {
                connection.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            try
            {
                using var command = new Npgsql.NpgsqlCommand("SELECT pg_advisory_unlock(@key)", _connection);
                command.Parameters.AddWithValue("key", Key);
                command.ExecuteNonQuery();
            }
            finally
            {
                _connection.Dispose();
            }
        }
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

/// <summary>Where a database's schema stands (see <see cref="Migrator.Inspect"/>).</summary>
public enum SchemaState
{
    /// <summary>No database yet: no embedded database file, or no migration has run.</summary>
    Missing,

    /// <summary>Some migrations have not run.</summary>
    Pending,

    /// <summary>Every migration has run.</summary>
    Current,
}
