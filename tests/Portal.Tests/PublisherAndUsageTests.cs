using System.Globalization;
using System.Text.RegularExpressions;
using LlmMarketplace.Portal.Client;

namespace LlmMarketplace.Portal.Tests;

/// <summary>
/// The publisher page (a listing's usage by other teams, its service level over time) and the usage page's charts,
/// dates, names and recent calls, in the browser against the real host.
/// </summary>
public sealed class PublisherAndUsageTests
{
    private static async Task<string> KeyAsync(Marketplace market, string team, int? rpm = null)
    {
        var key = await market.SendAsync(HttpMethod.Post, "api/v1/keys", new { name = "calls-" + Guid.NewGuid().ToString("N")[..6], team, rpm });
        return key.GetProperty("key").GetString()!;
    }

    [Fact]
    public async Task A_publisher_sees_which_teams_call_its_listing_and_its_service_level_and_others_do_not()
    {
        await using var market = await Marketplace.StartAsync();
        var (publisherName, publisherTeam, consumerName, consumerTeam) = await market.PublisherAndConsumerAsync();
        var slug = "orbit/metered-" + Guid.NewGuid().ToString("N")[..6];
        await market.PublishAsync(slug, "Metered Orbit", publisherTeam);
        var key = await KeyAsync(market, consumerTeam);
        await Wait.UntilAsync(() => market.ChatAsync(key, slug).Result == HttpStatusCode.OK, TimeSpan.FromSeconds(20), "the listing to be routable");
        Assert.Equal(HttpStatusCode.OK, await market.ChatAsync(key, slug));
        // Both calls rolled up (the API the page reads, polled with a deadline).
        await Wait.UntilAsync(() => market.SendAsync(HttpMethod.Get, "api/v1/analytics/publisher?listing=" + Uri.EscapeDataString(slug), null).Result
            .GetProperty("totals").GetProperty("requests").GetInt64() == 2, TimeSpan.FromSeconds(30), "the calls to be rolled up");

        await using var browser = await Browser.LaunchAsync();
        var shots = new Screenshots("publisher");
        var page = await browser.NewPageAsync(market.Host.BaseAddress);
        await PublishingJourneyTests.SignInAsync(page, "owner", "correct horse battery staple");
        await page.GetByRole(AriaRole.Link, new() { Name = "Publisher analytics" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Publisher analytics", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.GetByTestId("publisher-listing")).ToContainTextAsync(slug);
        await Expect(page.GetByTestId("publisher-listing")).ToContainTextAsync("published by " + publisherName);
        await Expect(page.GetByTestId("publisher-requests")).ToHaveTextAsync("2 requests");
        var team = page.GetByTestId("consuming-team");
        await Expect(team).ToHaveCountAsync(1);
        await Expect(team).ToContainTextAsync(consumerName);
        await Expect(page.GetByTestId("target-latency")).ToHaveTextAsync("Declared: 800 ms");
        await Expect(page.GetByTestId("target-uptime")).ToHaveTextAsync("Declared: 99.9 %");

        // Thirty days on the time axis, the empty ones as zero-height bars; the day with calls has a visible bar whose
        // tooltip gives the exact figure with its unit.
        var requests = page.GetByRole(AriaRole.Img, new() { Name = "Requests, in requests" });
        var bars = requests.GetByTestId("chart-bar");
        await Expect(bars).ToHaveCountAsync(31);
        var busy = bars.Filter(new() { Has = page.Locator("title", new() { HasTextRegex = new Regex(": 2 requests$") }) });
        await Expect(busy).ToHaveCountAsync(1);
        Assert.True(double.Parse((await busy.Locator("rect").GetAttributeAsync("height"))!, CultureInfo.InvariantCulture) > 100);
        var revenue = page.GetByRole(AriaRole.Img, new() { Name = "Revenue, in USD" }).GetByTestId("chart-bar")
            .Filter(new() { Has = page.Locator("title", new() { HasTextRegex = new Regex(@": \$0\.0000\d+$") }) });
        await Expect(revenue).ToHaveCountAsync(1);
        await shots.TakeAsync(page, "listing");

        // The period is a plain form: by keyboard, the last 24 hours in hours.
        await page.GetByLabel("Period").SelectOptionAsync("1");
        await page.GetByRole(AriaRole.Button, new() { Name = "Show" }).FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(page).ToHaveURLAsync(new Regex(@"days=1"));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Requests per hour (UTC)" })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Img, new() { Name = "Requests, in requests" }).GetByTestId("chart-bar")).ToHaveCountAsync(25);
        Assert.Empty(await page.EvaluateAsync<string[]>(CatalogPageTests.UnlabelledControls));

        // The catalog names the publishing team, not its id.
        await page.GotoAsync("/?q=metered");
        await Expect(page.GetByTestId("result-card").Filter(new() { HasText = "Metered Orbit" })).ToContainTextAsync(publisherName + " · chat");

        // The consuming team's member publishes nothing: no other team's listing.
        var buyer = await browser.NewPageAsync(market.Host.BaseAddress);
        await PublishingJourneyTests.SignInAsync(buyer, "buyer", "another long passphrase");
        await buyer.GotoAsync("/publisher");
        await Expect(buyer.GetByTestId("no-listings")).ToBeVisibleAsync();
        await buyer.GotoAsync("/publisher?listing=" + Uri.EscapeDataString(slug));
        await Expect(buyer.GetByTestId("no-listings")).ToBeVisibleAsync();
        await Expect(buyer.GetByText(consumerName)).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task Usage_shows_tiny_costs_as_visible_bars_every_day_local_times_budget_names_and_refused_calls()
    {
        await using var market = await Marketplace.StartAsync();
        var teamName = "spenders-" + Guid.NewGuid().ToString("N")[..6];
        var team = await market.CreateTeamAsync(teamName);
        await market.CreateUserAsync("spender", "correct horse battery staple", [], team);
        await market.SendAsync(HttpMethod.Post, "api/v1/budgets", new { scope = "team", scopeId = team, limitUsd = 5m, period = "monthly" });
        var key = await KeyAsync(market, team, rpm: 1);
        Assert.Equal(HttpStatusCode.OK, await market.ChatAsync(key, "gpt-4o-mini"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await market.ChatAsync(key, "gpt-4o-mini"));
        var usage = await market.SendAsync(HttpMethod.Get, "api/v1/usage?limit=10", null);
        var answered = usage.GetProperty("data").EnumerateArray().Single(static u => u.GetProperty("status").GetInt32() == 200);
        var cost = answered.GetProperty("costUsd").GetDecimal();
        Assert.InRange(cost, 0.0000001m, 0.001m);

        await using var browser = await Browser.LaunchAsync();
        var shots = new Screenshots("usage");
        var page = await browser.NewPageAsync(market.Host.BaseAddress, timezoneId: "Asia/Kolkata");
        await PublishingJourneyTests.SignInAsync(page, "spender", "correct horse battery staple");
        await page.GetByRole(AriaRole.Link, new() { Name = "Usage and cost" }).ClickAsync();

        // The refused call is among the recent calls, beside the answered one.
        var statuses = page.GetByTestId("usage-status");
        await Expect(statuses.Filter(new() { HasText = "429" })).ToHaveCountAsync(1);
        await Expect(statuses.Filter(new() { HasText = "200" })).ToHaveCountAsync(1);

        // Every day of the 30-day period is on the axis; today's tiny cost draws a visible bar with the exact amount.
        var byDay = page.GetByRole(AriaRole.Img, new() { Name = "Cost by day, in USD" }).GetByTestId("chart-bar");
        await Expect(byDay).ToHaveCountAsync(30);
        var today = byDay.Last;
        await Expect(today.Locator("title")).ToHaveTextAsync(new Regex(Regex.Escape(": " + Format.Usd(cost)) + "$"));
        Assert.True(double.Parse((await today.Locator("rect").GetAttributeAsync("height"))!, CultureInfo.InvariantCulture) >= 2);

        // Times in the viewer's zone (India here), the exact moment on hover; never a raw ISO string.
        var time = page.GetByTestId("usage-row").First.Locator("time");
        await Expect(time).ToHaveAttributeAsync("title", new Regex(@"India Standard Time"));
        await Expect(time).ToHaveAttributeAsync("title", new Regex(@"\d{2}:\d{2}:\d{2}"));
        await Expect(time).Not.ToHaveTextAsync(new Regex(@"UTC|T\d{2}:\d{2}|\.\d{4,}"));

        // The budget by the team's name, with its unit.
        await Expect(page.GetByTestId("budget")).ToContainTextAsync("Team " + teamName);
        await Expect(page.GetByTestId("budget")).ToContainTextAsync("of $5.00");
        await shots.TakeAsync(page, "usage");
    }

    [Theory]
    [InlineData("A **bold** [link](https://example.com/x)", "<strong>bold</strong>", "href=\"https://example.com/x\"")]
    [InlineData("[click](javascript:alert(1))", "click", null)]
    [InlineData("[click](JaVa\tScRiPt:alert(1))", "click", null)]
    [InlineData("![pic](data:image/svg+xml;base64,AAAA)", "", null)]
    [InlineData("<script>alert(1)</script>", "&lt;script&gt;", null)]
    [InlineData("<javascript:alert(1)>", "javascript:alert(1)", null)]
    public void Markdown_is_rendered_and_script_links_removed(string markdown, string contains, string? link)
    {
        var html = SafeMarkdown.ToHtml(markdown);
        Assert.Contains(contains, html, StringComparison.Ordinal);
        Assert.DoesNotContain("**", html, StringComparison.Ordinal);
        Assert.DoesNotMatch(new Regex(@"(href|src)=""\s*(javascript|data|vbscript):", RegexOptions.IgnoreCase), html);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        if (link is not null) Assert.Contains(link, html, StringComparison.Ordinal);
        else Assert.DoesNotContain("<a ", html, StringComparison.Ordinal);
    }
}
