using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using LlmMarketplace.Access.Keys;
using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Host.Hosting;

namespace LlmMarketplace.Host.Commands;

/// <summary><c>llm-marketplace keys create|list|revoke</c>: API keys on the configured storage.</summary>
internal static class KeysCommands
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Command Create(Option<string?> config, Option<string?> data, Func<ParseResult, HostSettings> settings)
    {
        var name = new Option<string>("--name") { Description = "A name for the key.", Required = true };
        var team = new Option<string?>("--team") { Description = "The team (id or name)." };
        var createTeam = new Option<bool>("--create-team") { Description = "Create the team named by --team when no team has that id or name." };
        var app = new Option<string?>("--app") { Description = "The app (id or name) the key belongs to." };
        var user = new Option<string?>("--user") { Description = "The user id the key belongs to." };
        var rpm = new Option<long?>("--rpm") { Description = "Requests per minute.", CustomParser = OptionParsers.WholeNumber };
        var tpm = new Option<long?>("--tpm") { Description = "Tokens per minute.", CustomParser = OptionParsers.WholeNumber };
        var budget = new Option<decimal?>("--budget-usd") { Description = "Budget in USD per period.", CustomParser = OptionParsers.Amount };
        var period = new Option<string?>("--budget-period") { Description = "daily, weekly or monthly (default monthly)." };
        var models = new Option<string[]>("--model") { Description = "A model the key may use (repeat; default every model).", AllowMultipleArgumentsPerToken = true };
        var expires = new Option<DateTimeOffset?>("--expires-at") { Description = "When the key stops working (ISO 8601).", CustomParser = OptionParsers.Instant };
        var create = new Command("create", "Creates an API key and prints it once.") { config, data, name, team, createTeam, app, user, rpm, tpm, budget, period, models, expires };
        create.SetAction(async (parse, ct) =>
        {
            var request = new CreateKeyRequest
            {
                Name = parse.GetValue(name),
                Team = parse.GetValue(team),
                CreateTeam = parse.GetValue(createTeam),
                App = parse.GetValue(app),
                User = parse.GetValue(user),
                Rpm = parse.GetValue(rpm),
                Tpm = parse.GetValue(tpm),
                BudgetUsd = parse.GetValue(budget),
                BudgetPeriod = parse.GetValue(period),
                Models = parse.GetValue(models) is { Length: > 0 } m ? m : null,
                ExpiresAt = parse.GetValue(expires),
            };
            return await WithServicesAsync(settings(parse), readOnly: null, async services =>
            {
                var (key, errors) = await KeyAdministration.CreateAsync(services, request, ct);
                if (key is null)
                {
                    await Console.Error.WriteLineAsync($"error: the key request has {errors.Count} problem(s):");
                    foreach (var line in errors) await Console.Error.WriteLineAsync($"  {line}");
                    return 1;
                }
                Console.WriteLine(JsonSerializer.Serialize(key, Json));
                return 0;
            });
        });

        var all = new Option<bool>("--all") { Description = "Include revoked keys." };
        var list = new Command("list", "Lists API keys (never their secrets).") { config, data, all };
        list.SetAction((parse, ct) => WithServicesAsync(settings(parse), readOnly: "nothing to list.", async services =>
        {
            var keys = await KeyAdministration.ListAsync(services, parse.GetValue(all), ct);
            Console.WriteLine($"{"NAME",-24} {"PREFIX",-14} {"TEAM",-20} {"APP",-20} {"STATE",-8} {"ID"}");
            foreach (var (k, teamName, appName) in keys)
            {
                var state = k.RevokedAt is not null ? "revoked" : k.ExpiresAt is { } e && e <= DateTimeOffset.UtcNow ? "expired" : "active";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{k.Name,-24} {k.Prefix,-14} {teamName ?? k.Team ?? "-",-20} {appName ?? k.App ?? "-",-20} {state,-8} {k.Id}"));
            }
            return 0;
        }));

        var id = new Argument<string>("id") { Description = "The key id." };
        var revoke = new Command("revoke", "Revokes an API key.") { config, data, id };
        revoke.SetAction((parse, ct) => WithServicesAsync(settings(parse), readOnly: null, async services =>
        {
            var key = await KeyAdministration.RevokeAsync(services, parse.GetValue(id)!, ct);
            if (key is null)
            {
                await Console.Error.WriteLineAsync($"error: no key has the id '{parse.GetValue(id)}'.");
                return 1;
            }
            Console.WriteLine($"revoked {key.Id} ({key.Prefix}…)");
            return 0;
        }));

        return new Command("keys", "API keys: create, list, revoke.") { create, list, revoke };
    }

    /// <summary>
    /// Runs <paramref name="action"/> on the built application's services, after migrating the database; a read-only
    /// command (<paramref name="readOnly"/>: what to say when there is no database yet) migrates nothing and writes nothing.
    /// </summary>
    private static async Task<int> WithServicesAsync(HostSettings settings, string? readOnly, Func<IServiceProvider, Task<int>> action)
    {
        // Standard output carries the command's result (the key's JSON): only warnings and errors are logged.
        var overrides = new Dictionary<string, string?>(settings.Overrides ?? new Dictionary<string, string?>(), StringComparer.OrdinalIgnoreCase)
        {
            ["Logging:LogLevel:Default"] = "Warning",
        };
        WebApplication app;
        try
        {
            app = MarketplaceApp.Build(settings with { Overrides = overrides });
        }
        catch (Exception ex) when (ex is LlmMarketplace.BuildingBlocks.Validation.InvalidConfigurationException or InvalidDataException or FormatException)
        {
            await Console.Error.WriteLineAsync($"error: the configuration is invalid: {ex.Message}");
            return 2;
        }
        await using (app)
        {
            try
            {
                if (readOnly is not null)
                {
                    if (await CliCommands.RequireDatabaseAsync(app.Services, readOnly) is { } exitCode) return exitCode;
                    return await action(app.Services);
                }
                var result = Migrator.Run(app.Services.GetRequiredService<Database>(), MigrationAssemblies.All);
                if (!result.Successful)
                {
                    await Console.Error.WriteLineAsync($"error: migration failed: {result.Error}");
                    return 1;
                }
                return await action(app.Services);
            }
            catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException or IOException)
            {
                await Console.Error.WriteLineAsync($"error: {ex.Message}");
                return 1;
            }
        }
    }
}
