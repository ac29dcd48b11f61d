using System.Reflection;
using DbUp;
using DbUp.Engine;
using LlmMarketplace.Access.Metering;
using LlmMarketplace.Access.Storage;
using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Host.Hosting;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmMarketplace.Access.Tests.Metering;

/// <summary>
/// The embedded database keeps the usage records in a file of their own (<c>llm-marketplace.usage.db</c>): their group
/// commit, which every call awaits, never waits behind another module's write transaction. A database made before the
/// split moves them there at the next start, keeping every record and its sequence number.
/// </summary>
public sealed class UsageOwnFileTests
{
    [Fact]
    public async Task A_call_commits_its_usage_record_while_another_writer_holds_the_main_file()
    {
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl + "/v1"));
        var database = host.Service<Database>();
        var usageFile = database.OwnFileOf("usage")!;
        Assert.True(File.Exists(usageFile), "the usage records' own file is made at the first start");
        Assert.Equal(0, TableCount(database.EmbeddedFile!, "access_usage"));
        Assert.Equal(1, TableCount(usageFile, "access_usage"));

        var key = await CreateKeyAsync(host, new { name = "own-file", team = "own-file-team" });
        var keyId = key.GetProperty("id").GetString()!;
        using var client = ClientWithKey(host, key.GetProperty("key").GetString()!);
        // The key's first call writes its sign-in to the audit trail (in the main file), later ones within the hour do not.
        using (var first = await ChatAsync(client, requestId: "req-first")) Assert.Equal(HttpStatusCode.OK, first.StatusCode);

        // Another writer (a long rollup fold, an import) holds the main file's write lock for the whole call.
        await using (var other = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database.EmbeddedFile, Pooling = false }.ToString()))
        {
            await other.OpenAsync();
            await using var hold = other.CreateCommand();
            hold.CommandText = "BEGIN IMMEDIATE; CREATE TABLE held_lock (x INTEGER); INSERT INTO held_lock VALUES (1);";
            await hold.ExecuteNonQueryAsync();

            using var answer = await ChatAsync(client, requestId: "req-own-file");
            Assert.True(answer.StatusCode == HttpStatusCode.OK, await answer.Content.ReadAsStringAsync());

            // The call awaited its record's commit: it is in the usage file, not in the spool, while the main file is still locked.
            Assert.Equal(1, await CountAsync(usageFile, "SELECT COUNT(*) FROM access_usage WHERE request_id = 'req-own-file'"));
            Assert.False(File.Exists(Path.Combine(host.Service<StorageOptions>().DataDirectory, "usage-spool.jsonl")), "the record went to the spool");
            await using var rollback = other.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            await rollback.ExecuteNonQueryAsync();
        }

        // Queries name the table unqualified and find it in its own file.
        var records = await UsageOfKeyAsync(host, keyId);
        Assert.Equal(["req-own-file", "req-first"], records.Select(static r => r.GetProperty("requestId").GetString()!).ToArray());
    }

    [Fact]
    public async Task Under_continuous_usage_writes_the_usage_log_starts_again_before_the_commits_would_checkpoint_it()
    {
        await using var host = await GatewayHost.StartAsync(Config("http://127.0.0.1:9/v1"));
        var usageFile = host.Service<Database>().OwnFileOf("usage")!;
        var log = new FileInfo(usageFile + "-wal");
        var writer = host.Service<UsageWriter>();
        var keyId = "key-" + Guid.NewGuid().ToString("N");

        // One record per commit, each awaited as a call awaits its own: every commit adds the table's and its nine
        // indexes' last pages to the log, so 2,000 commits write about twice the pages at which a commit would copy the
        // log into the file itself while its callers wait. The background checkpoints must start the log again first.
        const int count = 2_000;
        long largest = 0;
        for (var i = 0; i < count; i++)
        {
            await writer.WriteAsync(UsageBatchTests.Row(keyId, i));
            log.Refresh();
            if (log.Exists) largest = Math.Max(largest, log.Length);
        }

        var bound = (long)Database.OwnFileAutoCheckpointPages * 4096;
        Assert.True(largest > 0, "the usage file is written through its log");
        Assert.True(largest < bound, $"the log grew to {largest} bytes, as far as the commits' own checkpoint at {bound}");
        Assert.Equal(count, await CountAsync(usageFile, $"SELECT COUNT(*) FROM access_usage WHERE key_id = '{keyId}'"));
    }

    [Fact]
    public async Task The_checkpointer_leaves_an_idle_usage_file_alone_and_looks_again_after_a_commit()
    {
        await using var host = await GatewayHost.StartAsync(Config("http://127.0.0.1:9/v1"));
        var writer = host.Service<UsageWriter>();
        var store = host.Service<AccessStore>();
        // A checkpointer of the test's own beside the host's (which looks every 100 ms): each remembers its own last look.
        var checkpointer = new UsageCheckpointer(store, NullLogger<UsageCheckpointer>.Instance);
        var keyId = "key-" + Guid.NewGuid().ToString("N");

        await writer.WriteAsync(UsageBatchTests.Row(keyId, 0));
        Assert.Equal(UsageCheckpoint.Copied, await checkpointer.CheckpointAsync(CancellationToken.None));
        // No call, no commit: the file is not opened again however often it looks.
        for (var i = 0; i < 3; i++) Assert.Equal(UsageCheckpoint.Idle, await checkpointer.CheckpointAsync(CancellationToken.None));

        await writer.WriteAsync(UsageBatchTests.Row(keyId, 1));
        Assert.Equal(UsageCheckpoint.Copied, await checkpointer.CheckpointAsync(CancellationToken.None));
        Assert.Equal(UsageCheckpoint.Idle, await checkpointer.CheckpointAsync(CancellationToken.None));

        // A batch that does not come through the writer (the spool's delivery after an outage) counts as a commit too.
        await store.InsertUsageBatchAsync([UsageBatchTests.Row(keyId, 2)], CancellationToken.None);
        Assert.Equal(UsageCheckpoint.Copied, await checkpointer.CheckpointAsync(CancellationToken.None));
        Assert.Equal(UsageCheckpoint.Idle, await checkpointer.CheckpointAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_database_from_before_the_split_moves_its_usage_records_with_their_sequence_numbers()
    {
        await using var embedded = new EmbeddedDirectory();
        var database = embedded.Database;
        MigrateAsBefore(database);
        await using (var main = await OpenMainFileAsync(database))
        {
            for (var i = 1; i <= 3; i++) await InsertUsageAsync(main, $"req-old-{i}");
            // A later record was deleted by hand: its sequence number must never be handed out again.
            await ExecuteAsync(main, "UPDATE sqlite_sequence SET seq = 10 WHERE name = 'access_usage'");
        }
        Assert.Equal((SchemaState.Pending, 1), Migrator.Inspect(database, MigrationAssemblies.All));

        var result = Migrator.Run(database, MigrationAssemblies.All);

        Assert.True(result.Successful, result.Error);
        Assert.Empty(result.Applied);
        Assert.Equal(0, TableCount(database.EmbeddedFile!, "access_usage"));
        var usageFile = database.OwnFileOf("usage")!;
        Assert.Equal(["1:req-old-1", "2:req-old-2", "3:req-old-3"], await RecordsAsync(usageFile));
        Assert.Equal((SchemaState.Current, 0), Migrator.Inspect(database, MigrationAssemblies.All));

        // The indexes came along (the unique record id among them), and the next record continues after the high-water mark.
        Assert.Equal(8, await CountAsync(usageFile, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'access_usage' AND sql IS NOT NULL"));
        await using (var connection = await database.OpenAsync(Database.UsageFile))
        {
            await InsertUsageAsync((SqliteConnection)connection, "req-new");
        }
        Assert.Equal(["1:req-old-1", "2:req-old-2", "3:req-old-3", "11:req-new"], await RecordsAsync(usageFile));
        Assert.Empty(Migrator.Run(database, MigrationAssemblies.All).Applied);
    }

    [Fact]
    public async Task A_move_cut_short_after_its_copy_completes_at_the_next_start_without_doubling_a_record()
    {
        await using var embedded = new EmbeddedDirectory();
        var database = embedded.Database;
        MigrateAsBefore(database);
        await using (var main = await OpenMainFileAsync(database))
        {
            for (var i = 1; i <= 3; i++) await InsertUsageAsync(main, $"req-cut-{i}");
        }
        Assert.True(Migrator.Run(database, MigrationAssemblies.All).Successful);
        // The state a crash between the copy and the drop leaves: the records in both files, a fourth only in the main one.
        await using (var main = await OpenMainFileAsync(database))
        {
            await ExecuteAsync(main, $"ATTACH DATABASE '{database.OwnFileOf("usage")}' AS usage");
            await ExecuteAsync(main, "CREATE TABLE main.access_usage AS SELECT * FROM usage.access_usage");
            await ExecuteAsync(main, "INSERT INTO main.access_usage (seq, request_id, at_ms, operation, model, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost_usd, latency_ms, status, cache, stream) " +
                "VALUES (4, 'req-cut-4', 1, 'chat', 'm', 0, 0, 0, 0, 0, 1, 200, 'miss', 0)");
        }

        var result = Migrator.Run(database, MigrationAssemblies.All);

        Assert.True(result.Successful, result.Error);
        Assert.Equal(0, TableCount(database.EmbeddedFile!, "access_usage"));
        Assert.Equal(["1:req-cut-1", "2:req-cut-2", "3:req-cut-3", "4:req-cut-4"], await RecordsAsync(database.OwnFileOf("usage")!));
    }

    [Fact]
    public async Task A_usage_file_that_is_not_a_database_fails_the_migration_and_the_records_stay_in_the_main_file()
    {
        await using var embedded = new EmbeddedDirectory();
        var database = embedded.Database;
        Directory.CreateDirectory(Path.GetDirectoryName(database.EmbeddedFile)!);
        await File.WriteAllTextAsync(database.OwnFileOf(Database.UsageFile)!, new string('x', 4096));

        var result = Migrator.Run(database, MigrationAssemblies.All);

        // A clear failure, and the records stay where they were.
        Assert.False(result.Successful);
        Assert.False(string.IsNullOrWhiteSpace(result.Error));
        Assert.Equal(1, TableCount(database.EmbeddedFile!, "access_usage"));
    }

    /// <summary>An embedded database in a directory of its own, deleted when disposed.</summary>
    private sealed class EmbeddedDirectory : IAsyncDisposable
    {
        private readonly string _directory = TestPaths.NewDirectory();

        public EmbeddedDirectory() => Database = new Database(new StorageOptions { DataDirectory = _directory });

        public Database Database { get; }

        public async ValueTask DisposeAsync()
        {
            await Database.DisposeAsync();
            SqliteConnection.ClearAllPools();
            try { Directory.Delete(_directory, true); } catch (IOException) { }
        }
    }

    /// <summary>The main file alone (nothing attached), as the previous releases opened it.</summary>
    private static async Task<SqliteConnection> OpenMainFileAsync(Database database)
    {
        var connection = new SqliteConnection($"Data Source={database.EmbeddedFile};Pooling=False");
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>Every migration as the previous releases ran them: on the main file alone, so the usage table is made there.</summary>
    private static void MigrateAsBefore(Database database)
    {
        database.EnsureDirectory();
        var scripts = MigrationAssemblies.All.Distinct().SelectMany(static assembly => assembly.GetManifestResourceNames()
            .Where(static n => n.Contains(".Migrations.sqlite.", StringComparison.Ordinal))
            .Select(n => new SqlScript(n, Read(assembly, n))));
        var result = DeployChanges.To.SqliteDatabase(database.ConnectionString).WithScripts(scripts).WithTransactionPerScript().Build().PerformUpgrade();
        Assert.True(result.Successful, result.Error?.Message);
        Assert.Equal(1, TableCount(database.EmbeddedFile!, "access_usage"));
    }

    private static string Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static Task InsertUsageAsync(SqliteConnection connection, string requestId) => ExecuteAsync(connection,
        "INSERT INTO access_usage (request_id, at_ms, operation, model, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost_usd, latency_ms, status, cache, stream, record_id) " +
        $"VALUES ('{requestId}', 1, 'chat', 'm', 1, 2, 0, 0, 0.5, 3, 200, 'miss', 0, '{requestId}')");

    private static async Task ExecuteAsync(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>The tables named <paramref name="table"/> in one file, read on its own (nothing attached).</summary>
    private static long TableCount(string file, string table) =>
        CountAsync(file, $"SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'").GetAwaiter().GetResult();

    private static async Task<long> CountAsync(string file, string sql)
    {
        await using var connection = await OpenReadOnlyAsync(file);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>One file on its own (nothing attached), read only.</summary>
    private static async Task<SqliteConnection> OpenReadOnlyAsync(string file)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        await connection.OpenAsync();
        return connection;
    }

    private static async Task<string[]> RecordsAsync(string file)
    {
        await using var connection = await OpenReadOnlyAsync(file);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, request_id FROM access_usage ORDER BY seq";
        await using var reader = await command.ExecuteReaderAsync();
        var records = new List<string>();
        while (await reader.ReadAsync()) records.Add($"{reader.GetInt64(0)}:{reader.GetString(1)}");
        return [.. records];
    }
}
