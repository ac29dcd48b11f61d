namespace LlmMarketplace.Host.Tests.Hosting;

/// <summary>
/// Commands that only read (<c>keys list</c>, <c>audit verify</c>, <c>catalog sync --dry-run</c>) write nothing: where
/// there is no database yet they say so and exit 3, without creating a file or running a migration.
/// </summary>
public sealed class ReadOnlyCommandTests
{
    private const string ConfigWithSource = """
        Models: []
        Catalog:
          Sources:
            - {Name: registry, Url: "http://127.0.0.1:9/models.json", Format: openrouter, IntervalMinutes: 0}
        """;

    public static TheoryData<string[], string> Commands => new()
    {
        { ["keys", "list"], "nothing to list" },
        { ["keys", "list", "--all"], "nothing to list" },
        { ["audit", "verify"], "no audit trail yet" },
        { ["catalog", "sync", "registry", "--dry-run"], "no catalog to compare with" },
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task On_an_empty_data_directory_a_read_only_command_says_there_is_no_database_and_writes_nothing(string[] command, string says)
    {
        var (config, data) = EmptyDataDirectory();

        var (exit, output) = await CommandLineTests.RunAsync(null, [.. command, "--config", config, "--data", data]);

        Assert.True(exit == 3, $"exit {exit}: {output}");
        Assert.Contains($"No database at {data}", output, StringComparison.Ordinal);
        Assert.Contains(says, output, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(data));
    }

    [Fact]
    public async Task On_a_data_directory_that_was_never_made_a_read_only_command_does_not_make_it()
    {
        var (config, data) = EmptyDataDirectory();
        var missing = Path.Combine(data, "not-yet");

        var (exit, output) = await CommandLineTests.RunAsync(null, "keys", "list", "--config", config, "--data", missing);

        Assert.True(exit == 3, $"exit {exit}: {output}");
        Assert.False(Directory.Exists(missing), "keys list created the data directory");
    }

    [Fact]
    public async Task Once_migrated_the_read_only_commands_read_it()
    {
        var (config, data) = EmptyDataDirectory();
        var migrate = await CommandLineTests.RunAsync(null, "migrate", "--config", config, "--data", data);
        Assert.True(migrate.ExitCode == 0, migrate.Output);

        var list = await CommandLineTests.RunAsync(null, "keys", "list", "--config", config, "--data", data);
        var verify = await CommandLineTests.RunAsync(null, "audit", "verify", "--config", config, "--data", data);

        Assert.True(list.ExitCode == 0, list.Output);
        Assert.Contains("PREFIX", list.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("No database", list.Output, StringComparison.Ordinal);
        Assert.True(verify.ExitCode == 0, verify.Output);
        Assert.DoesNotContain("No database", verify.Output, StringComparison.Ordinal);
    }

    /// <summary>A configuration file and, beside it, an empty data directory.</summary>
    private static (string Config, string Data) EmptyDataDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "llmm-tests", Guid.NewGuid().ToString("N"));
        var data = Path.Combine(dir, "data");
        Directory.CreateDirectory(data);
        var config = Path.Combine(dir, "c.yaml");
        File.WriteAllText(config, ConfigWithSource);
        return (config, data);
    }
}
