using LlmMarketplace.Host.Hosting;
using LlmMarketplace.TestKit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.FileProviders;

namespace LlmMarketplace.Host.Tests.Hosting;

/// <summary>
/// The configuration file, YAML or JSON, is polled for changes rather than watched with a file system watcher (which
/// follows the file's whole directory tree, data directory included), and an edit still reloads it.
/// </summary>
public sealed class ConfigurationPollingTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("llmm-config-").FullName;

    public static TheoryData<string, string, string> Files => new()
    {
        { "config.yaml", "Gateway:\n  Marker: first\n", "Gateway:\n  Marker: second\n" },
        { "config.json", """{ "Gateway": { "Marker": "first" } }""", """{ "Gateway": { "Marker": "second" } }""" },
    };

    [Theory]
    [MemberData(nameof(Files))]
    public async Task The_file_is_polled_and_an_edit_is_reloaded(string name, string first, string second)
    {
        var path = Path.Combine(_directory, name);
        await File.WriteAllTextAsync(path, first);
        var builder = new ConfigurationBuilder();
        MarketplaceConfiguration.Apply(builder, new HostSettings { ConfigFile = path });

        // Read before the configuration is built: once its watcher exists, the provider no longer reports the mode.
        var source = Assert.Single(builder.Sources.OfType<FileConfigurationSource>());
        var files = Assert.IsType<PhysicalFileProvider>(source.FileProvider);
        Assert.True(files.UsePollingFileWatcher, "the file provider polls");
        Assert.True(files.UseActivePolling, "the file provider polls on its own timer");
        var configuration = builder.Build();
        using var disposeConfiguration = configuration as IDisposable;
        Assert.Equal("first", configuration["Gateway:Marker"]);

        // Writes in a folder beside the file (a data directory) change nothing; an edit of the file is picked up.
        var data = Directory.CreateDirectory(Path.Combine(_directory, "data")).FullName;
        await File.WriteAllTextAsync(Path.Combine(data, "llm-marketplace.db-wal"), "bytes");
        await File.WriteAllTextAsync(path, second);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddSeconds(1));
        await Wait.UntilAsync(() => configuration["Gateway:Marker"] == "second", TimeSpan.FromSeconds(30), "the edited file to be reloaded");
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
