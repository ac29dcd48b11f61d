using System.Diagnostics;
using System.Globalization;
using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using Xunit.Abstractions;

namespace LlmMarketplace.Portal.Tests;

/// <summary>The catalog page on the real 364-model OpenRouter catalog: shareable searches, comparison, accessibility basics.</summary>
public sealed class CatalogPageTests(ITestOutputHelper output)
{
    private static string OpenRouterFile => Path.GetFullPath(Path.Combine(TestPaths.RepositoryRoot, "..", "shared", "data", "openrouter-models.json"));

    /// <summary>Every visible form control without an accessible name (label, aria-label or aria-labelledby), as "tag#id".</summary>
    internal const string UnlabelledControls = """
        () => [...document.querySelectorAll('input, select, textarea')]
          .filter(e => e.type !== 'hidden' && e.offsetParent !== null)
          .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
          .map(e => e.tagName.toLowerCase() + '#' + (e.id || '?') + '[' + (e.type || '') + ']')
        """;

    [Fact]
    public async Task A_fresh_installation_shows_the_models_its_gateway_serves_listed_by_the_platform()
    {
        await using var market = await Marketplace.StartAsync(new Dictionary<string, string?> { ["Catalog:PublicBrowsing"] = "true" });

        // In the first HTML answer, before any script.
        using var plain = new HttpClient { BaseAddress = market.Host.BaseAddress };
        var html = await plain.GetStringAsync("/");
        Assert.Contains("2 services", html, StringComparison.Ordinal);
        Assert.Contains("gpt-4o-mini", html, StringComparison.Ordinal);
        Assert.Contains("text-embedding-3-small", html, StringComparison.Ordinal);

        await using var browser = await Browser.LaunchAsync();
        var page = await browser.NewPageAsync(market.Host.BaseAddress);
        await page.GotoAsync("/");
        await Expect(page.GetByTestId("result-count")).ToHaveTextAsync("2 services");
        var card = page.GetByTestId("result-card").Filter(new() { HasText = "gpt-4o-mini" });
        await Expect(card).ToContainTextAsync("platform");
        await Expect(card).ToContainTextAsync("$0.15");
    }

    [Fact]
    public async Task The_real_catalog_opens_from_a_shared_search_address_compares_services_and_is_usable_by_keyboard()
    {
        await using var market = await Marketplace.StartAsync();
        using (var file = File.OpenRead(OpenRouterFile))
        using (var content = new StreamContent(file))
        {
            content.Headers.ContentType = new("application/json");
            using var imported = await market.Host.Client.PostAsync("api/v1/catalog/import", content);
            Assert.True(imported.IsSuccessStatusCode, await imported.Content.ReadAsStringAsync());
        }
        var team = await market.CreateTeamAsync("team-" + Guid.NewGuid().ToString("N")[..6]);
        await market.CreateUserAsync("dev", "correct horse battery staple", [], team);

        await using var browser = await Browser.LaunchAsync();
        var page = await browser.NewPageAsync(market.Host.BaseAddress);
        var shots = new Screenshots("catalog");
        await PublishingJourneyTests.SignInAsync(page, "dev", "correct horse battery staple");

        // First render of the full catalog, measured (reported, not asserted: speed lives in bench/).
        var watch = Stopwatch.StartNew();
        await page.GotoAsync("/");
        // The file's 364 models and the two the gateway's configuration serves.
        await Expect(page.GetByTestId("result-count")).ToHaveTextAsync("366 services");
        await Expect(page.GetByTestId("result-card")).ToHaveCountAsync(24);
        await Expect(page.GetByTestId("card-measured-sla")).ToHaveCountAsync(24);
        await Expect(page.GetByTestId("card-measured-sla").First).ToHaveTextAsync("no traffic yet");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"catalog page, 364 services: first render with results in {watch.ElapsedMilliseconds} ms"));
        await shots.TakeAsync(page, "all");
        Assert.Empty(await page.EvaluateAsync<string[]>(UnlabelledControls));

        // A search address opens with its results, so it can be shared and bookmarked.
        watch.Restart();
        await page.GotoAsync("/?q=claude");
        var cards = page.GetByTestId("result-card");
        await Expect(cards.First).ToContainTextAsync("Claude");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"catalog page, ?q=claude: first render with results in {watch.ElapsedMilliseconds} ms"));
        await Expect(cards.First).ToContainTextAsync("anthropic");
        await Expect(page.GetByTestId("result-count")).Not.ToHaveTextAsync("366 services");

        // Facets narrow the results and land in the address too.
        await page.GetByRole(AriaRole.Group, new() { Name = "Modalities" }).GetByText("image", new() { Exact = false }).First.ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("modality=image"));
        await Expect(page.GetByRole(AriaRole.Group, new() { Name = "Modalities" }).GetByRole(AriaRole.Checkbox, new() { Name = "image", Exact = false }).First).ToBeCheckedAsync();

        // The max price filter: typed, Enter applies it.
        var maxPrice = page.GetByLabel("Max input price ($/1M tokens)");
        await maxPrice.TypeInAsync("1");
        await maxPrice.PressAsync("Enter");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("maxPrice=1"));
        await Expect(maxPrice).ToHaveValueAsync("1");

        // Two services side by side.
        await page.GotoAsync("/?q=claude");
        var names = (await cards.Locator("a.mud-link").AllInnerTextsAsync()).Take(2).ToList();
        await cards.Nth(0).GetByLabel("Compare").CheckAsync();
        await cards.Nth(1).GetByLabel("Compare").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Compare selected" }).ClickAsync();
        var table = page.GetByTestId("compare-table");
        foreach (var name in names) await Expect(table).ToContainTextAsync(name);
        await Expect(table).ToContainTextAsync("Input price / 1M");
        // Measured service level beside the declared one: nobody called these imported listings here.
        await Expect(table.GetByRole(AriaRole.Row).Filter(new() { HasText = "Measured uptime" })).ToContainTextAsync("no traffic yet");
        await shots.TakeAsync(page, "compare");

        // Keyboard only: the skip link is the first stop in the tab order, and from it the search is reachable and
        // usable without a mouse.
        await page.GotoAsync("/");
        await Expect(page.GetByTestId("result-count")).ToHaveTextAsync("366 services");
        Assert.Equal("Skip to content", await page.EvaluateAsync<string>(
            "() => document.querySelector('a[href], button:not([disabled]), input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex=\"-1\"])').textContent"));
        await page.GetByRole(AriaRole.Link, new() { Name = "Skip to content" }).FocusAsync();
        var search = page.GetByLabel("Search the catalog");
        for (var i = 0; i < 40 && !await search.EvaluateAsync<bool>("e => e === document.activeElement"); i++)
        {
            await page.Keyboard.PressAsync("Tab");
        }
        await Expect(search).ToBeFocusedAsync();
        await search.PressSequentiallyAsync("gemini", Typing.PersonsPace);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex(@"\?q=gemini"));
        await Expect(cards.First).ToContainTextAsync("Gemini");
        await shots.TakeAsync(page, "keyboard-search");
    }

    [Fact]
    public async Task Every_form_control_of_the_main_pages_has_an_accessible_name_and_every_page_is_photographed()
    {
        await using var market = await Marketplace.StartAsync();
        var teamName = "team-" + Guid.NewGuid().ToString("N")[..6];
        var team = await market.CreateTeamAsync(teamName);
        await market.CreateUserAsync("root", "guard the gates carefully", ["admin"], team);
        var slug = "acme/zephyr-" + Guid.NewGuid().ToString("N")[..6];
        await market.PublishAsync(slug, "Acme Zephyr Chat", team);
        await market.CreatePlanAsync(slug, "starter");

        await using var browser = await Browser.LaunchAsync();
        var shots = new Screenshots("pages");
        var page = await browser.NewPageAsync(market.Host.BaseAddress);
        await page.GotoAsync("/login");
        await Expect(page.GetByLabel("User name")).ToBeVisibleAsync();
        Assert.Empty(await page.EvaluateAsync<string[]>(UnlabelledControls));
        await AssertAccessibleAsync(page, "/login");
        await shots.TakeAsync(page, "login");
        await PublishingJourneyTests.SignInAsync(page, "root", "guard the gates carefully");
        var pages = new (string Path, string Heading)[]
        {
            ("/", "Catalog"), ("/compare?ids=" + Uri.EscapeDataString(slug) + ",gpt-4o-mini", "Compare services"),
            ("/services/" + slug, "Acme Zephyr Chat"), ("/apps", "My apps and keys"), ("/publisher", "Publisher analytics"), ("/usage", "Usage and cost"), ("/statements", "Statements"), ("/publish", "Publish a service"),
            ("/approvals", "Approvals"), ("/admin/users", "Users and roles"), ("/admin/teams", "Teams"), ("/admin/policies", "Policies"),
            ("/admin/audit", "Audit log"), ("/admin/deployments", "Providers and deployments"),
        };
        foreach (var (path, heading) in pages)
        {
            await page.GotoAsync(path);
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = heading, Level = 1 })).ToBeVisibleAsync();
            await Expect(page.GetByRole(AriaRole.Progressbar)).ToHaveCountAsync(0);
            var unlabelled = await page.EvaluateAsync<string[]>(UnlabelledControls);
            Assert.True(unlabelled.Length == 0, $"{path}: unlabelled controls {string.Join(", ", unlabelled)}");
            await AssertAccessibleAsync(page, path);
            if (path == "/")
            {
                // The provider facet names the publishing team as people know it, not by its id.
                var providers = page.GetByLabel("Providers", new() { Exact = true });
                await Expect(providers).ToContainTextAsync(teamName);
                await Expect(providers).Not.ToContainTextAsync(team);
            }
            await shots.TakeAsync(page, path.Split('?')[0].Trim('/').Replace('/', '-') is { Length: > 0 } name ? name : "catalog");
        }
    }

    /// <summary>axe-core (Deque's engine, run in the page) finds no serious or critical WCAG 2 A/AA violation.</summary>
    private static async Task AssertAccessibleAsync(IPage page, string path)
    {
        var result = await page.RunAxe(new AxeRunOptions
        {
            RunOnly = new RunOnlyOptions { Type = "tag", Values = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
        });
        var serious = result.Violations.Where(static v => v.Impact is "serious" or "critical")
            .Select(static v => $"{v.Id} ({v.Impact}): {v.Help} at {string.Join("; ", v.Nodes.Take(3).Select(static n => string.Join(" ", n.Target)))}")
            .ToList();
        Assert.True(serious.Count == 0, $"{path}: accessibility violations:\n{string.Join("\n", serious)}");
    }
}
