using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmMarketplace.Gateway.Tests.Foundations;

/// <summary>
/// At Information the real host writes one line per real event: page loads before sign-in (each one a challenge) and the
/// catalog's periodic catch-up that finds nothing new are not events.
/// </summary>
public sealed class InformationLogTests
{
    private const string CatalogCategory = "LlmMarketplace.Catalog.CatalogState";

    [Fact]
    public async Task Portal_loads_and_catalog_refreshes_leave_no_line_at_information()
    {
        var logs = new LogCapture(LogLevel.Trace);
        await using var host = await GatewayHost.StartAsync("Providers: []\nModels: []\n", new Dictionary<string, string?>
        {
            ["Catalog:RefreshSeconds"] = "1",
        }, services =>
        {
            services.AddSingleton<ILoggerProvider>(logs);
            // This provider alone also hears the catalog's Debug lines, to know when refreshes have happened; every
            // other category keeps the host's own levels.
            services.Configure<LoggerFilterOptions>(o => o.Rules.Add(new LoggerFilterRule(typeof(LogCapture).FullName, CatalogCategory, LogLevel.Debug, null)));
        });
        var atStart = logs.Entries.Count;

        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = true }) { BaseAddress = host.BaseAddress };
        const int loads = 6;
        for (var i = 0; i < loads; i++)
        {
            foreach (var page in new[] { "", "login", "usage" })
            {
                using var response = await browser.GetAsync(new Uri(page, UriKind.Relative));
                Assert.True((int)response.StatusCode < 500, $"/{page} answered {(int)response.StatusCode}");
            }
        }
        await Wait.UntilAsync(() => Reloads(logs) >= 2, TimeSpan.FromSeconds(30), "two periodic catalog refreshes");

        var informational = logs.Entries.Skip(atStart).Where(static e => e.Level >= LogLevel.Information).ToList();
        Assert.DoesNotContain(informational, static e => e.Message.Contains("was challenged", StringComparison.Ordinal));
        Assert.DoesNotContain(informational, static e => e.Message.StartsWith("Catalog loaded", StringComparison.Ordinal));
        // Nothing is written once per page load (or more often) at Information.
        var repeated = informational.GroupBy(static e => (e.Category, e.EventId.Id)).Where(static g => g.Count() >= loads).Select(static g => g.First().Message).ToList();
        Assert.True(repeated.Count == 0, "written per request at Information: " + string.Join(" | ", repeated));
        // The catalog's start was an event, logged once.
        Assert.Single(logs.Entries.Take(atStart), static e => e.Level == LogLevel.Information && e.Message.StartsWith("Catalog loaded", StringComparison.Ordinal));
    }

    private static int Reloads(LogCapture logs) =>
        logs.Entries.Count(static e => e.Category == CatalogCategory && e.Level == LogLevel.Debug && e.Message.StartsWith("Catalog reloaded", StringComparison.Ordinal));
}
