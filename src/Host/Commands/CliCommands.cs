using System.CommandLine;
using System.Diagnostics.CodeAnalysis;
using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Host.Hosting;
using Microsoft.Extensions.Configuration;

namespace LlmMarketplace.Host.Commands;

/// <summary>The command line: <c>serve</c>, <c>migrate</c>, <c>config check</c>.</summary>
public static class CliCommands
{
    private static readonly Option<string?> ConfigOption = new("--config", "-c") { Description = "Configuration file (JSON or YAML)." };
    private static readonly Option<string?> DataOption = new("--data", "-d") { Description = "Data directory (the embedded SQLite database lives here)." };
    private static readonly Option<string?> UrlsOption = new("--urls") { Description = "URLs to listen on, e.g. http://127.0.0.1:8080 (default)." };

    public static RootCommand Create()
    {
        var serve = new Command("serve", "Starts the marketplace: gateway, management API and portal.") { ConfigOption, UrlsOption, DataOption };
        serve.SetAction(static (parse, ct) => ServeAsync(Settings(parse, withUrls: true), ct));

        var migrate = new Command("migrate", "Applies database migrations and exits.") { ConfigOption, DataOption };
        migrate.SetAction(static (parse, _) => MigrateAsync(Settings(parse, withUrls: false)));

        var check = new Command("check", "Validates the configuration and exits.") { ConfigOption, DataOption };
        check.SetAction(static (parse, _) => Task.FromResult(Check(Settings(parse, withUrls: false))));
        var config = new Command("config", "Configuration tools.") { check };

        var importFile = new Argument<string>("FILE") { Description = "An OpenRouter models file ({\"data\": [...]}) or a models.dev file ({\"providers\": [...]})." };
        var import = new Command("import", "Imports listings from a models file; re-importing updates, never duplicates.") { importFile, ConfigOption, DataOption };
        import.SetAction((parse, ct) => CatalogCommands.ImportAsync(Settings(parse, withUrls: false), parse.GetValue(importFile)!, ct));
        var sourceName = new Argument<string>("NAME") { Description = "The name of a registry source in Catalog:Sources." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Shows what would change and applies nothing." };
        var sync = new Command("sync", "Syncs a registry source (Catalog:Sources) now and prints what changed.") { sourceName, dryRun, ConfigOption, DataOption };
        sync.SetAction((parse, ct) => CatalogCommands.SyncAsync(Settings(parse, withUrls: false), parse.GetValue(sourceName)!, parse.GetValue(dryRun), ct));
        var catalog = new Command("catalog", "Catalog tools.") { import, sync };

        var keys = KeysCommands.Create(ConfigOption, DataOption, static parse => Settings(parse, withUrls: false));

        var verify = new Command("verify", "Verifies the audit trail's hash chain; exits 1 and names the first broken link if it was tampered with.") { ConfigOption, DataOption };
        verify.SetAction(static (parse, ct) => VerifyAuditAsync(Settings(parse, withUrls: false), ct));
        var audit = new Command("audit", "Audit trail tools.") { verify };

        return new RootCommand("LLM Marketplace: publish, discover, consume and govern LLM services.") { serve, migrate, config, keys, audit, catalog };
    }

    private static HostSettings Settings(ParseResult parse, bool withUrls) => new()
    {
        ConfigFile = parse.GetValue(ConfigOption),
        DataDirectory = parse.GetValue(DataOption),
        Urls = withUrls ? parse.GetValue(UrlsOption) : null,
    };

    private static async Task<int> ServeAsync(HostSettings settings, CancellationToken cancellationToken)
    {
        if (!TryBuild(settings, out var app, out var exitCode)) return exitCode;
        try
        {
            await app.RunAsync(cancellationToken);
            return 0;
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}");
            return 1;
        }
        finally
        {
            await app.DisposeAsync();
        }
    }

    /// <summary>Needs only storage: a migration job holds database credentials, not provider keys or the master key.</summary>
    private static async Task<int> MigrateAsync(HostSettings settings)
    {
        StorageOptions options;
        try
        {
            using var configuration = new ConfigurationManager();
            MarketplaceConfiguration.Apply(configuration, settings);
            ConfigurationSchema.ThrowIfUnknownSettings(configuration);
            options = configuration.GetSection(StorageOptions.SectionName).Get<StorageOptions>() ?? new StorageOptions();
        }
        catch (Exception ex) when (IsConfigurationProblem(ex))
        {
            return ReportConfigurationError(ex);
        }
        Database database;
        try
        {
            database = new Database(options);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            await Console.Error.WriteLineAsync($"error: storage: {ex.Message}");
            return 2;
        }
        await using (database)
        {
            var result = Migrator.Run(database, MigrationAssemblies.All);
            if (!result.Successful)
            {
                await Console.Error.WriteLineAsync($"error: migration failed: {result.Error}");
                return 1;
            }
            Console.WriteLine(result.Applied.Count == 0
                ? $"{database.Provider}: the database is up to date."
                : $"{database.Provider}: applied {result.Applied.Count} migration(s): {string.Join(", ", result.Applied)}");
            return 0;
        }
    }

    private static async Task<int> VerifyAuditAsync(HostSettings settings, CancellationToken cancellationToken)
    {
        if (!TryBuild(settings, out var app, out var exitCode)) return exitCode;
        await using (app)
        {
            if (await RequireDatabaseAsync(app.Services, "no audit trail yet.") is { } noDatabase) return noDatabase;
            return await LlmMarketplace.Governance.Audit.AuditCli.VerifyAsync(app.Services, Console.Out, Console.Error, cancellationToken);
        }
    }

    /// <summary>The exit code of a read-only command run where there is no database yet.</summary>
    internal const int NoDatabaseExitCode = 3;

    /// <summary>
    /// For commands that only read (they write nothing: no database file, no migration): null when the schema is up to
    /// date, else the exit code after saying why: <see cref="NoDatabaseExitCode"/> when there is no database yet, 1 when
    /// migrations are pending or the database cannot be read.
    /// </summary>
    internal static async Task<int?> RequireDatabaseAsync(IServiceProvider services, string nothingYet)
    {
        var database = services.GetRequiredService<Database>();
        (SchemaState State, int Pending) schema;
        try
        {
            schema = Migrator.Inspect(database, MigrationAssemblies.All);
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or IOException)
        {
            await Console.Error.WriteLineAsync($"error: the database ({database.Location}) could not be read: {ex.Message}");
            return 1;
        }
        switch (schema.State)
        {
            case SchemaState.Missing:
                await Console.Error.WriteLineAsync($"No database at {database.Location}: {nothingYet}");
                return NoDatabaseExitCode;
            case SchemaState.Pending:
                await Console.Error.WriteLineAsync($"error: the database at {database.Location} needs {schema.Pending} migration(s): run `llm-marketplace migrate` first.");
                return 1;
            default:
                return null;
        }
    }

    private static int Check(HostSettings settings)
    {
        try
        {
            using var app = MarketplaceApp.Build(settings) as IDisposable;
            Console.WriteLine("The configuration is valid.");
            return 0;
        }
        catch (Exception ex) when (IsConfigurationProblem(ex))
        {
            return ReportConfigurationError(ex);
        }
    }

    /// <summary>Builds the application (not started); on a configuration problem reports it and gives its exit code.</summary>
    internal static bool TryBuild(HostSettings settings, [NotNullWhen(true)] out WebApplication? app, out int exitCode)
    {
        exitCode = 0;
        try
        {
            app = MarketplaceApp.Build(settings);
            return true;
        }
        catch (Exception ex) when (IsConfigurationProblem(ex))
        {
            app = null;
            exitCode = ReportConfigurationError(ex);
            return false;
        }
    }

    internal static bool IsConfigurationProblem(Exception ex) =>
        ex is InvalidConfigurationException or InvalidDataException or FormatException
        || ex.GetType().Name.Contains("Yaml", StringComparison.Ordinal);

    internal static int ReportConfigurationError(Exception ex)
    {
        if (ex is InvalidConfigurationException invalid)
        {
            Console.Error.WriteLine($"error: the configuration has {invalid.Errors.Count} problem(s):");
            foreach (var line in invalid.Errors.Lines())
            {
                Console.Error.WriteLine($"  {line}");
            }
        }
        else
        {
            Console.Error.WriteLine($"error: the configuration file could not be read: {ex.Message}{(ex.InnerException is { } inner ? " " + inner.Message : "")}");
        }
        return 2;
    }
}
