using System.Globalization;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace LlmMarketplace.Portal.Tests;

/// <summary>
/// The portal as people use it: they type at a person's pace (a delay between keys), press Enter to submit and use
/// the back button; and a page's content is in its first HTML answer, before any script runs.
/// </summary>
public sealed class KeyboardTests(ITestOutputHelper output)
{
    /// <summary>On the sign-in page, types the master key at a person's pace and presses Enter; the portal shows who is signed in.</summary>
    private static async Task SignInWithTheKeyByEnterAsync(IPage page, Marketplace market)
    {
        await page.GotoAsync("/login");
        var key = page.GetByLabel("API key or token");
        await key.PressSequentiallyAsync(market.Host.MasterKey, Typing.PersonsPace);
        await key.PressAsync("Enter");
        await Expect(page.GetByTestId("signed-in-as")).Not.ToBeEmptyAsync();
    }

    [Fact]
    public async Task A_key_typed_at_a_persons_pace_signs_in_when_Enter_is_pressed()
    {
        await using var market = await Marketplace.StartAsync();
        await using var browser = await Browser.LaunchAsync();
        var page = await browser.NewPageAsync(market.Host.BaseAddress);
        await SignInWithTheKeyByEnterAsync(page, market);
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Users and roles" })).ToBeVisibleAsync();
    }

    [Fact]
    public async Task A_password_typed_at_a_persons_pace_signs_in_when_Enter_is_pressed()
    {
        await using var market = await Marketplace.StartAsync();
        var team = await market.CreateTeamAsync("team-" + Guid.NewGuid().ToString("N")[..6]);
        await market.CreateUserAsync("typist", "correct horse battery staple", [], team);
        await using var browser = await Browser.LaunchAsync();
        var page = await browser.NewPageAsync(market.Host.BaseAddress);
        await page.GotoAsync("/login");
        await page.GetByLabel("User name").PressSequentiallyAsync("typist", Typing.PersonsPace);
        var password = page.GetByLabel("Password", new() { Exact = true });
        await password.PressSequentiallyAsync("correct horse battery staple", Typing.PersonsPace);
        await password.PressAsync("Enter");
        await Expect(page.GetByTestId("signed-in-as")).ToHaveTextAsync("typist");
    }

    [Fact]
    public async Task A_search_typed_at_a_persons_pace_keeps_every_character_submits_on_Enter_and_comes_back_with_the_back_button()
    {
        await using var market = await Marketplace.StartAsync(new Dictionary<string, string?> { ["Catalog:PublicBrowsing"] = "true" });
        var publisher = await market.CreateTeamAsync("acme-" + Guid.NewGuid().ToString("N")[..6]);
        await market.PublishAsync("acme/claude-haiku-" + Guid.NewGuid().ToString("N")[..6], "Claude Haiku Lookalike", publisher);
        await market.PublishAsync("acme/zephyr-" + Guid.NewGuid().ToString("N")[..6], "Zephyr Breeze", publisher);

        await using var browser = await Browser.LaunchAsync();
        var page = await browser.NewPageAsync(market.Host.BaseAddress);
        await page.GotoAsync("/");
        var search = page.GetByLabel("Search the catalog");
        await search.PressSequentiallyAsync("claude haiku", Typing.PersonsPace);
        await search.PressAsync("Enter");
        await Expect(page).ToHaveURLAsync(new Regex(@"\?q=claude(\+|%20)haiku"));
        await Expect(search).ToHaveValueAsync("claude haiku");
        var cards = page.GetByTestId("result-card");
        await Expect(cards.Filter(new() { HasText = "Claude Haiku Lookalike" })).ToHaveCountAsync(1);
        await Expect(cards.Filter(new() { HasText = "Zephyr Breeze" })).ToHaveCountAsync(0);

        await search.ClearAsync();
        await search.PressSequentiallyAsync("zephyr", Typing.PersonsPace);
        await search.PressAsync("Enter");
        await Expect(page).ToHaveURLAsync(new Regex(@"\?q=zephyr"));
        await Expect(cards.Filter(new() { HasText = "Zephyr Breeze" })).ToHaveCountAsync(1);

        await page.GoBackAsync();
        await Expect(page).ToHaveURLAsync(new Regex(@"\?q=claude(\+|%20)haiku"));
        await Expect(search).ToHaveValueAsync("claude haiku");
        await Expect(cards.Filter(new() { HasText = "Claude Haiku Lookalike" })).ToHaveCountAsync(1);
        await Expect(cards.Filter(new() { HasText = "Zephyr Breeze" })).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task Filters_typed_at_a_persons_pace_apply_on_Enter_and_facets_tick_with_the_space_bar()
    {
        await using var market = await Marketplace.StartAsync(new Dictionary<string, string?> { ["Catalog:PublicBrowsing"] = "true" });
        var publisher = await market.CreateTeamAsync("acme-" + Guid.NewGuid().ToString("N")[..6]);
        // Priced at $2 per 1M input tokens; the gateway's configured models cost $0.15 and $0.02.
        await market.PublishAsync("acme/pricey-" + Guid.NewGuid().ToString("N")[..6], "Pricey Tiny", publisher);

        await using var browser = await Browser.LaunchAsync();
        var page = await browser.NewPageAsync(market.Host.BaseAddress);
        await page.GotoAsync("/");
        var cards = page.GetByTestId("result-card");
        await Expect(cards.Filter(new() { HasText = "Pricey Tiny" })).ToHaveCountAsync(1);
        var maxPrice = page.GetByLabel("Max input price ($/1M tokens)");
        await maxPrice.PressSequentiallyAsync("0.155", Typing.PersonsPace);
        await maxPrice.PressAsync("Enter");
        await Expect(page).ToHaveURLAsync(new Regex(@"maxPrice=0\.155"));
        await Expect(maxPrice).ToHaveValueAsync("0.155");
        await Expect(cards.Filter(new() { HasText = "Pricey Tiny" })).ToHaveCountAsync(0);
        await Expect(cards.Filter(new() { HasText = "gpt-4o-mini" })).ToHaveCountAsync(1);

        var minContext = page.GetByLabel("Min context (tokens)");
        await minContext.PressSequentiallyAsync("32768", Typing.PersonsPace);
        await minContext.PressAsync("Enter");
        await Expect(page).ToHaveURLAsync(new Regex(@"minContext=32768"));
        await Expect(minContext).ToHaveValueAsync("32768");
        await Expect(page.GetByTestId("result-count")).ToHaveTextAsync("0 services");

        // A facet by keyboard: focus, space.
        await page.GotoAsync("/");
        var tag = page.GetByRole(AriaRole.Group, new() { Name = "Tags" }).GetByRole(AriaRole.Checkbox, new() { Name = "tests" });
        await tag.FocusAsync();
        await page.Keyboard.PressAsync("Space");
        await Expect(page).ToHaveURLAsync(new Regex(@"tags=tests"));
        await Expect(cards).ToHaveCountAsync(1);
        await Expect(cards).ToContainTextAsync("Pricey Tiny");
    }

    [Fact]
    public async Task Administration_forms_typed_at_a_persons_pace_submit_on_Enter()
    {
        await using var market = await Marketplace.StartAsync();
        await using var browser = await Browser.LaunchAsync();
        var page = await browser.NewPageAsync(market.Host.BaseAddress);
        await SignInWithTheKeyByEnterAsync(page, market);

        var teamName = "typed-team-" + Guid.NewGuid().ToString("N")[..6];
        await page.GotoAsync("/admin/teams");
        var name = page.GetByLabel("Team name");
        await name.PressSequentiallyAsync(teamName, Typing.PersonsPace);
        await name.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Cell, new() { Name = teamName, Exact = true })).ToBeVisibleAsync();
        var teams = await market.SendAsync(HttpMethod.Get, "api/v1/teams", null);
        Assert.Contains(teams.GetProperty("data").EnumerateArray(), t => t.GetProperty("name").GetString() == teamName);

        // The audit log lists the team's creation; a filter typed and submitted with Enter leaves only what matches.
        await page.GotoAsync("/admin/audit");
        await Expect(page.GetByRole(AriaRole.Cell, new() { Name = "team.created", Exact = true }).First).ToBeVisibleAsync();
        var action = page.GetByLabel("Action (e.g. policy.updated)");
        await action.PressSequentiallyAsync("policy.deleted", Typing.PersonsPace);
        await action.PressAsync("Enter");
        await Expect(page.GetByTestId("audit-row")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task A_key_name_typed_at_a_persons_pace_creates_the_key_on_Enter()
    {
        await using var market = await Marketplace.StartAsync();
        var team = await market.CreateTeamAsync("team-" + Guid.NewGuid().ToString("N")[..6]);
        await market.CreateUserAsync("keymaker", "correct horse battery staple", [], team);
        await market.SendAsync(HttpMethod.Post, "api/v1/apps", new { name = "typing-app", team });
        await using var browser = await Browser.LaunchAsync();
        var page = await browser.NewPageAsync(market.Host.BaseAddress);
        await PublishingJourneyTests.SignInAsync(page, "keymaker", "correct horse battery staple");
        await page.GotoAsync("/apps");
        var name = page.GetByLabel("Key name");
        await name.PressSequentiallyAsync("nightly batch (eu)", Typing.PersonsPace);
        await Expect(name).ToHaveValueAsync("nightly batch (eu)");
        await name.PressAsync("Enter");
        await Expect(page.GetByLabel("New API key")).ToHaveValueAsync(new Regex(".{20,}"));
        await Expect(page.GetByRole(AriaRole.Cell, new() { Name = "nightly batch (eu)", Exact = true })).ToBeVisibleAsync();
        var keys = await market.SendAsync(HttpMethod.Get, "api/v1/keys", null);
        Assert.Contains(keys.GetProperty("data").EnumerateArray(), static k => k.GetProperty("name").GetString() == "nightly batch (eu)");
    }

    [Fact]
    public async Task The_publish_wizard_typed_at_a_persons_pace_creates_the_draft_on_Enter()
    {
        await using var market = await Marketplace.StartAsync();
        var team = await market.CreateTeamAsync("nimbus-" + Guid.NewGuid().ToString("N")[..6]);
        await market.CreateUserAsync("wizard", "correct horse battery staple", [], team);
        var slug = "nimbus/typed-" + Guid.NewGuid().ToString("N")[..6];
        await using var browser = await Browser.LaunchAsync();
        var page = await browser.NewPageAsync(market.Host.BaseAddress);
        await PublishingJourneyTests.SignInAsync(page, "wizard", "correct horse battery staple");
        await page.GotoAsync("/publish");
        await page.GetByLabel("Name", new() { Exact = true }).PressSequentiallyAsync("Typed Orbit", Typing.PersonsPace);
        await page.GetByLabel("Model name (slug)").PressSequentiallyAsync(slug, Typing.PersonsPace);
        await page.GetByLabel("Context length (tokens)").PressSequentiallyAsync("65536", Typing.PersonsPace);
        await page.GetByLabel("Input price (USD per 1M tokens)").PressSequentiallyAsync("0.25", Typing.PersonsPace);
        await page.GetByLabel("Output price (USD per 1M tokens)").PressSequentiallyAsync("1.25", Typing.PersonsPace);
        await page.GetByLabel("Provider name (deployment 1)").PressSequentiallyAsync("nimbus-cloud", Typing.PersonsPace);
        await page.GetByLabel("Upstream model (deployment 1)").PressSequentiallyAsync("tiny-1", Typing.PersonsPace);
        var baseUrl = page.GetByLabel("Base URL (deployment 1)");
        await baseUrl.PressSequentiallyAsync(market.Upstream.BaseUrl + "/v1", Typing.PersonsPace);
        await Expect(page.GetByLabel("Model name (slug)")).ToHaveValueAsync(slug);
        await Expect(baseUrl).ToHaveValueAsync(market.Upstream.BaseUrl + "/v1");
        await baseUrl.PressAsync("Enter");
        await Expect(page.GetByTestId("version-state")).ToHaveTextAsync("draft");
        var service = await market.SendAsync(HttpMethod.Get, "api/v1/services/" + Uri.EscapeDataString(slug), null);
        Assert.Equal("Typed Orbit", service.GetProperty("name").GetString());
    }

    [Fact]
    public async Task The_catalogs_first_HTML_answer_holds_the_listings_and_first_paint_is_measured()
    {
        await using var market = await Marketplace.StartAsync(new Dictionary<string, string?> { ["Catalog:PublicBrowsing"] = "true" });
        var publisher = await market.CreateTeamAsync("acme-" + Guid.NewGuid().ToString("N")[..6]);
        var slug = "acme/nimbus-" + Guid.NewGuid().ToString("N")[..6];
        await market.PublishAsync(slug, "Nimbus Server Rendered", publisher);

        // A plain GET, no script: what a crawler, a screenshot tool or a slow network gets first.
        using var plain = new HttpClient { BaseAddress = market.Host.BaseAddress };
        var html = await plain.GetStringAsync("/");
        Assert.Contains("Nimbus Server Rendered", html, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"result-card\"", html, StringComparison.Ordinal);
        var search = await plain.GetStringAsync("/?q=nimbus");
        Assert.Contains("Nimbus Server Rendered", search, StringComparison.Ordinal);
        // The service page too: its description (Markdown rendered) is in the first answer; only subscribe, reviews
        // and the playground wait for their live connection.
        var service = await plain.GetStringAsync("/services/" + slug);
        Assert.Contains("Nimbus Server Rendered", service, StringComparison.Ordinal);
        Assert.Contains("<strong>tiny</strong>", service, StringComparison.Ordinal);
        Assert.Contains("Service level", service, StringComparison.Ordinal);

        // First paint, reported (not asserted: speed lives in bench/). The second visit is the one a person meets
        // most days: the host is warm and the browser has the styles.
        await using var browser = await Browser.LaunchAsync();
        var page = await browser.NewPageAsync(market.Host.BaseAddress);
        foreach (var path in new[] { "/", "/", "/login", "/login", "/services/" + slug, "/services/" + slug })
        {
            await page.GotoAsync(path);
            var paint = await page.EvaluateAsync<double>("""
                () => new Promise(resolve => {
                  const entry = () => performance.getEntriesByName('first-contentful-paint')[0];
                  const poll = () => entry() ? resolve(entry().startTime) : requestAnimationFrame(poll);
                  poll();
                })
                """);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{path}: first contentful paint {paint:0} ms"));
        }
    }
}
