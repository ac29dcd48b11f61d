using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Catalog.Import;
using LlmMarketplace.Catalog.Registry;
using LlmMarketplace.Host.Hosting;
using Spectre.Console;

namespace LlmMarketplace.Host.Commands;

/// <summary><c>catalog import FILE</c>: imports listings with a progress bar and a summary; <c>catalog sync NAME</c>: syncs a registry source now.</summary>
internal static class CatalogCommands
{
    public static async Task<int> ImportAsync(HostSettings settings, string file, CancellationToken ct)
    {
        if (!File.Exists(file))
        {
            await Console.Error.WriteLineAsync($"error: the file '{file}' does not exist.");
            return 2;
        }
        if (!CliCommands.TryBuild(settings, out var app, out var exitCode)) return exitCode;
        await using (app)
        {
            if (!await MigrateAsync(app)) return 1;
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

    /// <summary>
    /// Syncs the configured registry source <paramref name="name"/> now, as the API does (same lease, audit with the CLI as
    /// the actor, events), and prints what changed. Exit codes: 0 synced, 1 the source could not be read or is being
    /// synced elsewhere, 2 no such source or a configuration error, 3 a dry run where there is no database yet.
    /// </summary>
    public static async Task<int> SyncAsync(HostSettings settings, string name, bool dryRun, CancellationToken ct)
    {
        if (!CliCommands.TryBuild(settings, out var app, out var exitCode)) return exitCode;
        await using (app)
        {
            // A dry run writes nothing, so it needs the catalog it compares with to exist already; this is checked before
            // anything that would write (the sources' services open the secret store, which makes its key file).
            if (dryRun && await CliCommands.RequireDatabaseAsync(app.Services,
                    "no catalog to compare with; run `llm-marketplace migrate` (or a sync without --dry-run) first.") is { } noDatabase)
            {
                return noDatabase;
            }
            var sources = app.Services.GetRequiredService<CatalogSources>();
            if (!sources.Names.Contains(name, StringComparer.Ordinal))
            {
                await Console.Error.WriteLineAsync($"error: {sources.UnknownSource(name)}");
                return 2;
            }
            if (!dryRun && !await MigrateAsync(app)) return 1;
            SyncResult? result;
            try
            {
                result = await sources.SyncAsync(name, dryRun, "cli", ct);
            }
            catch (SourceUnreadableException ex)
            {
                await Console.Error.WriteLineAsync($"error: the source '{name}' could not be read: {ex.Message}");
                return 1;
            }
            if (result is null)
            {
                await Console.Error.WriteLineAsync($"error: the source '{name}' is being synced right now; try again when it finished.");
                return 1;
            }
            Console.WriteLine($"{(dryRun ? "Dry run of" : "Synced")} {result.Source} ({result.Format}): {result.Read} read, {result.Created.Count} created, {result.Updated.Count} updated, {result.Deprecated.Count} deprecated, {result.Unchanged.Count} unchanged.");
            foreach (var (label, slugs) in new[] { ("created", result.Created), ("updated", result.Updated), ("deprecated", result.Deprecated) })
            {
                foreach (var slug in slugs.Take(20)) Console.WriteLine($"  {label}: {slug}");
            }
            foreach (var problem in result.Problems.Take(20)) Console.WriteLine($"  skipped: {problem}");
            return 0;
        }
    }

    /// <summary>Brings the database up to date; false (reported) when a migration failed.</summary>
    private static async Task<bool> MigrateAsync(WebApplication app)
    {
        var migration = Migrator.Run(app.Services.GetRequiredService<Database>(), MigrationAssemblies.All);
        if (migration.Successful) return true;
        await Console.Error.WriteLineAsync($"error: migration failed: {migration.Error}");
        return false;
    }

    /// <summary>Reports synchronously (Progress&lt;T&gt; would post to the thread pool and lag behind).</summary>
    private sealed class SyncProgress(Action<(int Done, int Total)> report) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value) => report(value);
    }
}
