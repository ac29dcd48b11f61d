using System.Data.Common;
using System.Globalization;
using System.Runtime.CompilerServices;
using LlmMarketplace.BuildingBlocks.Secrets;
using Microsoft.Data.Sqlite;
using Npgsql;
using SQLitePCL;

namespace LlmMarketplace.BuildingBlocks.Storage;

/// <summary>Opens connections to the configured database (SQLite file or PostgreSQL).</summary>
public sealed class Database : IAsyncDisposable
{
    public const string SqliteFileName = "llm-marketplace.db";

    /// <summary>
    /// Tables the embedded database keeps in a file of their own beside the main file: the name of the file's part
    /// (<see cref="OwnFileOf"/>) and its tables. SQLite admits one writer per file: the usage records, which every call
    /// awaits, are committed in their own file, so their group commit never waits behind another module's write (the
    /// rollup fold, events, webhooks, the audit trail, catalog edits). A module opens such a table's connection with
    /// <see cref="OpenAsync(string, CancellationToken)"/>, and its queries there name only that file's tables. On
    /// PostgreSQL and in-memory SQLite these tables stay in the one database.
    /// </summary>
    public static readonly IReadOnlyList<(string Name, string[] Tables)> OwnFiles = [(UsageFile, ["access_usage"])];

    /// <summary>The own file (<see cref="OwnFiles"/>) of the usage records.</summary>
    public const string UsageFile = "usage";

    private readonly NpgsqlDataSource? _npgsql;

    /// <summary>The connection string of each own file (<see cref="OwnFiles"/>) of the embedded database; empty otherwise.</summary>
    private readonly Dictionary<string, string> _ownFiles = new(StringComparer.Ordinal);

    /// <summary>The embedded database's directory, created on the first connection (so composing the app writes nothing).</summary>
    private string? _directoryToCreate;

    public Database(StorageOptions options)
    {
        Provider = options.Provider;
        switch (options.Provider)
        {
            case StorageProvider.Sqlite:
                var raw = ResolveConnectionString(options.ConnectionString);
                if (string.IsNullOrWhiteSpace(raw))
                {
                    _directoryToCreate = options.DataDirectory;
                    raw = new SqliteConnectionStringBuilder
                    {
                        DataSource = Path.Combine(options.DataDirectory, SqliteFileName),
                        Mode = SqliteOpenMode.ReadWriteCreate,
                        Cache = SqliteCacheMode.Private,
                        Pooling = true,
                    }.ToString();
                }
                ConnectionString = raw;
                var source = new SqliteConnectionStringBuilder(raw);
                EmbeddedFile = source.Mode == SqliteOpenMode.Memory || source.DataSource is "" or ":memory:" ? null : Path.GetFullPath(source.DataSource);
                Location = EmbeddedFile is null ? "an in-memory SQLite database" : Path.GetDirectoryName(EmbeddedFile)!;
                if (EmbeddedFile is not null)
                {
                    foreach (var (name, _) in OwnFiles)
                    {
                        _ownFiles[name] = new SqliteConnectionStringBuilder(raw) { DataSource = OwnFileOf(name) }.ToString();
                    }
                }
                break;
            case StorageProvider.Postgres:
                var pg = ResolveConnectionString(options.ConnectionString)
                    ?? throw new InvalidOperationException("Storage:ConnectionString must be set when Storage:Provider is postgres.");
                var builder = new NpgsqlConnectionStringBuilder(pg) { MaxPoolSize = options.MaxPoolSize };
                ConnectionString = builder.ConnectionString;
                Location = $"PostgreSQL database '{builder.Database}' on {builder.Host}";
                _npgsql = NpgsqlDataSource.Create(builder);
                break;
            default:
                throw new InvalidOperationException($"Unknown storage provider '{options.Provider}'.");
        }
    }

    public StorageProvider Provider { get; }

    public string ConnectionString { get; }

    /// <summary>The embedded database's file (full path); null for PostgreSQL and in-memory SQLite.</summary>
    public string? EmbeddedFile { get; }

    /// <summary>
    /// The file of the embedded database that holds the tables of its own file <paramref name="name"/> (see
    /// <see cref="OwnFiles"/>): beside the main file, named after it (<c>llm-marketplace.usage.db</c>). Null for
    /// PostgreSQL and in-memory SQLite.
    /// </summary>
    public string? OwnFileOf(string name) => EmbeddedFile is null
        ? null
        : Path.Combine(Path.GetDirectoryName(EmbeddedFile)!, $"{Path.GetFileNameWithoutExtension(EmbeddedFile)}.{name}.db");

    /// <summary>Where the database is, for messages: the embedded database's directory, or PostgreSQL's database and host (never credentials).</summary>
    public string Location { get; } = "";

    public Task<DbConnection> OpenAsync(CancellationToken cancellationToken = default) => OpenSqliteOrPostgresAsync(ConnectionString, cancellationToken);

    /// <summary>
    /// Opens a connection to the tables of the own file <paramref name="ownFile"/> (<see cref="OwnFiles"/>): that file on
    /// the embedded database, else the one database.
    /// </summary>
    public Task<DbConnection> OpenAsync(string ownFile, CancellationToken cancellationToken = default) =>
        _ownFiles.TryGetValue(ownFile, out var connectionString)
            ? OpenSqliteOrPostgresAsync(connectionString, cancellationToken, OwnFileSettings)
            : OpenSqliteOrPostgresAsync(ConnectionString, cancellationToken);

    private async Task<DbConnection> OpenSqliteOrPostgresAsync(string sqliteConnectionString, CancellationToken cancellationToken, string settings = Settings)
    {
        if (_npgsql is not null)
        {
            return await _npgsql.OpenConnectionAsync(cancellationToken);
        }
        EnsureDirectory();
        var connection = new SqliteConnection(sqliteConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            if (IsConfigured(connection)) return connection;
            using var pragma = connection.CreateCommand();
            pragma.CommandText = settings;
            await pragma.ExecuteNonQueryAsync(cancellationToken);
            MarkConfigured(connection);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Opens a connection synchronously, for the few framework interfaces that are synchronous (e.g. key storage).</summary>
    public DbConnection Open()
    {
        if (_npgsql is not null)
        {
            return _npgsql.OpenConnection();
        }
        EnsureDirectory();
        var connection = new SqliteConnection(ConnectionString);
        try
        {
            connection.Open();
            if (IsConfigured(connection)) return connection;
            using var pragma = connection.CreateCommand();
            pragma.CommandText = Settings;
            pragma.ExecuteNonQuery();
            MarkConfigured(connection);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A non-pooled connection to the embedded database's main file with every own file (<see cref="OwnFiles"/>) attached
    /// under its name, for the migrations: a script finds a table in whichever file holds it, and what it changes in the
    /// connection's settings ends with the connection instead of staying in the pool.
    /// </summary>
    internal SqliteConnection OpenForMigrations()
    {
        EnsureDirectory();
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder(ConnectionString) { Pooling = false }.ToString());
        try
        {
            connection.Open();
            using var pragma = connection.CreateCommand();
            // Only the lock wait and the attachments: the migrations keep SQLite's defaults (foreign keys off), as they always ran.
            var attach = new System.Text.StringBuilder("PRAGMA busy_timeout=5000; ");
            foreach (var (name, _) in OwnFiles)
            {
                attach.Append($"ATTACH DATABASE '{OwnFileOf(name)!.Replace("'", "''", StringComparison.Ordinal)}' AS {name}; PRAGMA {name}.journal_mode=WAL; ");
            }
            pragma.CommandText = attach.ToString();
            pragma.ExecuteNonQuery();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private const string Settings = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;";

    /// <summary>
    /// Pages of an own file's write-ahead log at which a commit checkpoints it itself. An own file's log is checkpointed
    /// in the background by its module (the usage records' by <c>UsageCheckpointer</c>), so that the commits callers
    /// wait for do not copy the log into the file and sync it; this bound only keeps the log's size in check if the
    /// background checkpoints fall behind.
    /// </summary>
    public const int OwnFileAutoCheckpointPages = 10_000;

    private static readonly string OwnFileSettings = string.Create(CultureInfo.InvariantCulture, $"{Settings} PRAGMA wal_autocheckpoint={OwnFileAutoCheckpointPages};");

    /// <summary>
    /// The SQLite handles that already carry <see cref="Settings"/>. A pooled connection keeps its handle, and the handle
    /// keeps its settings (nothing else in the product changes them), so they are applied once per handle instead of at
    /// every open: that was four statements parsed and run for every usage batch, twice as many as the batch itself.
    /// </summary>
    private static readonly ConditionalWeakTable<sqlite3, object> Configured = new();

    private static readonly object ConfiguredMark = new();

    private static bool IsConfigured(SqliteConnection connection) => connection.Handle is { } handle && Configured.TryGetValue(handle, out _);

    private static void MarkConfigured(SqliteConnection connection)
    {
        if (connection.Handle is { } handle) Configured.AddOrUpdate(handle, ConfiguredMark);
    }

    /// <summary>Creates the embedded database's directory if it is still missing (opening a connection does it too).</summary>
    public void EnsureDirectory()
    {
        if (_directoryToCreate is not { } directory) return;
        Directory.CreateDirectory(directory);
        _directoryToCreate = null;
    }

    public ValueTask DisposeAsync() => _npgsql?.DisposeAsync() ?? ValueTask.CompletedTask;

    private static string? ResolveConnectionString(string? value)
    {
        if (string.IsNullOrWhiteSpace(value) || !SecretReference.IsReference(value))
        {
            return value;
        }
        return SecretReference.TryResolve(value, out var secret, out var error)
            ? secret
            : throw new InvalidOperationException($"Storage:ConnectionString: {error}.");
    }
}
