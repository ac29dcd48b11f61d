using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Catalog.Import;
using LlmMarketplace.Host.Hosting;
using Spectre.Console;

namespace LlmMarketplace.Host.Commands;

/// <summary><c>catalog import FILE</c>: imports listings with a progress bar and a summary.</summary>
internal static class CatalogCommands
{
    public static async Task<int> ImportAsync(HostSettings settings, string file, CancellationToken ct)
    {
        if (!File.Exists(file))
        {
            await Console.Error.WriteLineAsync($"error: the file '{file}' does not exist.");
            return 2;
        }
        WebApplication app;
        try
        {
            app = MarketplaceApp.Build(settings);
        }
        catch (Exception ex) when (CliCommands.IsConfigurationProblem(ex))
        {
            return CliCommands.ReportConfigurationError(ex);
        }
        await using (app)
        {
            var database = app.Services.GetRequiredService<Database>();
            var migration = Migrator.Run(database, MigrationAssemblies.All);
            if (!migration.Successful)
            {
                await Console.Error.WriteLineAsync($"error: migration failed: {migration.Error}");
                return 1;
            }
            var importer = app.Services.GetRequiredService<ImportService>();
            ImportSummary summary;
            try
            {
                await using var stream = File.OpenRead(file);
                var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
                if (!console.Profile.Capabilities.Interactive)
                {
                    // Redirected output (CI, logs): a plain line per quarter instead of a redrawn bar.
                    var lastQuarter = -1;
                    var plain = new SyncProgress(p =>
                    {
                        var quarter = p.Total == 0 ? 4 : p.Done * 4 / p.Total;
                        if (quarter == lastQuarter) return;
                        lastQuarter = quarter;
                        Console.Error.WriteLine($"Importing {Path.GetFileName(file)}: {p.Done}/{p.Total}");
                    });
                    summary = await importer.ImportAsync(stream, "cli", plain, ct);
                }
                else
                {
                    summary = await console.Progress()
                        .AutoClear(false)
                        .HideCompleted(false)
                        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                        .StartAsync(async ctx =>
                        {
                            var task = ctx.AddTask($"Importing {Path.GetFileName(file)}", maxValue: 1);
                            var progress = new SyncProgress(p =>
                            {
                                task.MaxValue = Math.Max(1, p.Total);
                                task.Value = p.Done;
                            });
                            var result = await importer.ImportAsync(stream, "cli", progress, ct);
                            task.Value = task.MaxValue;
                            ctx.Refresh();
                            return result;
                        });
                }
            }
            catch (InvalidDataException ex)
            {
                await Console.Error.WriteLineAsync($"error: {ex.Message}");
                return 1;
            }
            Console.WriteLine($"Imported {summary.Read} models ({summary.Format}): {summary.Created} created, {summary.Updated} updated, {summary.Unchanged} unchanged, {summary.Skipped} skipped.");
            foreach (var problem in summary.Problems.Take(20))
            {
                Console.WriteLine($"  skipped: {problem}");
            }
            return 0;
        }
    }

    /// <summary>Reports synchronously (Progress&lt;T&gt; would post to the thread pool and lag behind).</summary>
    private sealed class SyncProgress(Action<(int Done, int Total)> report) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value) => report(value);
    }
}
