using System.Globalization;
using System.Text.RegularExpressions;
using LlmMarketplace.Portal.Tests.Infrastructure;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace LlmMarketplace.Portal.Tests;

/// <summary>
/// The portal as people use it: they type at a person's pace (a delay between keys), press Enter to submit and use
/// the back button; and a page's content is in its first HTML answer, before any script runs.
/// </summary>
public sealed class KeyboardTests(ITestOutputHelper output)
{
    private static readonly LocatorPressSequentiallyOptions PersonsPace = new() { Delay = 80 };

    [Fact]
    public async Task A_key_typed_at_a_persons_pace_signs_in_when_Enter_is_pressed()
    {
        await using var market = await Marketplace.StartAsync();
        await using var browser = await Browser.LaunchAsync();
        var page = await browser.NewPageAsync(market.Host.BaseAddress);
        await page.GotoAsync("/login");
        var key = page.GetByLabel("API key or token");
        await key.PressSequentiallyAsync(market.Host.MasterKey, PersonsPace);
        await key.PressAsync("Enter");
        await Expect(page.GetByTestId("signed-in-as")).Not.ToBeEmptyAsync();
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
        await page.GetByLabel("User name").PressSequentiallyAsync("typist", PersonsPace);
        var password = page.GetByLabel("Password", new() { Exact = true });
        await password.PressSequentiallyAsync("correct horse battery staple", PersonsPace);
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
        await search.PressSequentiallyAsync("claude haiku", PersonsPace);
        await search.PressAsync("Enter");
        await Expect(page).ToHaveURLAsync(new Regex(@"\?q=claude(\+|%20)haiku"));
        await Expect(search).ToHaveValueAsync("claude haiku");
        var cards = page.GetByTestId("result-card");
        await Expect(cards.Filter(new() { HasText = "Claude Haiku Lookalike" })).ToHaveCountAsync(1);
        await Expect(cards.Filter(new() { HasText = "Zephyr Breeze" })).ToHaveCountAsync(0);

        await search.ClearAsync();
        await search.PressSequentiallyAsync("zephyr", PersonsPace);
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
    public async Task The_catalogs_first_HTML_answer_holds_the_listings_and_first_paint_is_measured()
    {
        await using var market = await Marketplace.StartAsync(new Dictionary<string, string?> { ["Catalog:PublicBrowsing"] = "true" });
        var publisher = await market.CreateTeamAsync("acme-" + Guid.NewGuid().ToString("N")[..6]);
        await market.PublishAsync("acme/nimbus-" + Guid.NewGuid().ToString("N")[..6], "Nimbus Server Rendered", publisher);

        // A plain GET, no script: what a crawler, a screenshot tool or a slow network gets first.
        using var plain = new HttpClient { BaseAddress = market.Host.BaseAddress };
        var html = await plain.GetStringAsync("/");
        Assert.Contains("Nimbus Server Rendered", html, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"result-card\"", html, StringComparison.Ordinal);
        var search = await plain.GetStringAsync("/?q=nimbus");
        Assert.Contains("Nimbus Server Rendered", search, StringComparison.Ordinal);

        // First paint, reported (not asserted: speed lives in bench/). The second visit is the one a person meets
        // most days: the host is warm and the browser has the styles.
        await using var browser = await Browser.LaunchAsync();
        var page = await browser.NewPageAsync(market.Host.BaseAddress);
        foreach (var path in new[] { "/", "/", "/login", "/login" })
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
