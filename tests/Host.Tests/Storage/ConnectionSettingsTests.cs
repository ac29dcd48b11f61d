using LlmMarketplace.BuildingBlocks.Storage;
using Microsoft.Data.Sqlite;

namespace LlmMarketplace.Host.Tests.Storage;

/// <summary>
/// Every embedded connection carries the database's settings (write-ahead log, NORMAL sync, a 5 s lock wait, foreign
/// keys), whether it is new or taken back from the pool, where the settings are applied once per SQLite handle.
/// </summary>
public sealed class ConnectionSettingsTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "llmm-tests", Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task A_new_and_a_pooled_connection_of_every_file_carry_the_settings()
    {
        await using var database = new Database(new StorageOptions { Provider = StorageProvider.Sqlite, DataDirectory = _directory });
        object? firstHandle = null;
        foreach (var round in new[] { "new", "pooled" })
        {
            // Two at once, so that the second (opened synchronously) takes a handle of its own in the first round.
            await using (var main = (SqliteConnection)await database.OpenAsync())
            using (var sync = database.Open())
            {
                AssertSettings(main, round + ", main file");
                AssertSettings(sync, round + ", main file, opened synchronously");
                if (round == "new") firstHandle = main.Handle;
                else Assert.True(ReferenceEquals(firstHandle, main.Handle) || ReferenceEquals(firstHandle, ((SqliteConnection)sync).Handle),
                    "the pool hands back the handles it was given");
            }
            await using (var usage = await database.OpenAsync(Database.UsageFile))
            {
                AssertSettings(usage, round + ", usage file");
            }
        }
    }

    private static void AssertSettings(System.Data.Common.DbConnection connection, string round)
    {
        Assert.True("wal" == Pragma(connection, "journal_mode"), $"{round}: journal_mode");
        Assert.True("1" == Pragma(connection, "synchronous"), $"{round}: synchronous (1 is NORMAL)");
        Assert.True("5000" == Pragma(connection, "busy_timeout"), $"{round}: busy_timeout");
        Assert.True("1" == Pragma(connection, "foreign_keys"), $"{round}: foreign_keys");
    }

    private static string? Pragma(System.Data.Common.DbConnection connection, string name)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA {name}";
        return Convert.ToString(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }
}
