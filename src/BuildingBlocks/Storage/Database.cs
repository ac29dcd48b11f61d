using System.Data.Common;
using LlmMarketplace.BuildingBlocks.Secrets;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace LlmMarketplace.BuildingBlocks.Storage;

/// <summary>Opens connections to the configured database (SQLite file or PostgreSQL).</summary>
public sealed class Database : IAsyncDisposable
{
    public const string SqliteFileName = "llm-marketplace.db";

    private readonly NpgsqlDataSource? _npgsql;

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

    /// <summary>Where the database is, for messages: the embedded database's directory, or PostgreSQL's database and host (never credentials).</summary>
    public string Location { get; } = "";

    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        if (_npgsql is not null)
        {
            return await _npgsql.OpenConnectionAsync(cancellationToken);
        }
        EnsureDirectory();
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken);
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
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
        connection.Open();
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;";
        pragma.ExecuteNonQuery();
        return connection;
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
