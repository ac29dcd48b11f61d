using System.Globalization;
using System.Text.RegularExpressions;

namespace LlmMarketplace.Portal.Tests;

/// <summary>
/// The statements page against the real host: a consuming team's statement (a prorated plan fee and metered calls to a
/// published listing) shows the API's figures, month by month through a plain form and the back button, downloads as
/// the API's CSV; an admin adds an adjustment with its errors next to the fields; the publisher sees its revenue.
/// </summary>
public sealed class StatementsPageTests
{
    private const decimal PlanPrice = 30m;

    private static string Rounded(decimal amount) => amount.ToString("0.00", CultureInfo.InvariantCulture) + " USD";

    private static string Precise(decimal amount) => amount.ToString("0.00##########", CultureInfo.InvariantCulture) + " USD";

    private static async Task<string> CsvAsync(Marketplace market, string team, string month)
    {
        using var response = await market.Host.Client.GetAsync($"api/v1/statements?team={team}&month={month}&format=csv");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    [Fact]
    public async Task A_team_reads_its_statement_by_month_as_the_API_answers_it_an_admin_adjusts_it_and_the_publisher_sees_its_revenue()
    {
        await using var market = await Marketplace.StartAsync();
        var (publisherName, publisherTeam, consumerName, consumerTeam) = await market.PublisherAndConsumerAsync();
        await market.CreateUserAsync("root", "guard the gates carefully", ["admin"]);
        var slug = "orbit/billed-" + Guid.NewGuid().ToString("N")[..6];
        await market.PublishAsync(slug, "Billed Orbit", publisherTeam);
        var plan = await market.SendAsync(HttpMethod.Post, "api/v1/plans", new { name = "pro", model = slug, priceUsd = PlanPrice });
        var app = await market.SendAsync(HttpMethod.Post, "api/v1/apps", new { name = "billing-app", team = consumerTeam });
        var appId = app.GetProperty("id").GetString()!;
        var sub = await market.SendAsync(HttpMethod.Post, "api/v1/subscriptions", new { app = appId, plan = plan.GetProperty("id").GetString() });
        Assert.Equal("active", sub.GetProperty("status").GetString());
        var key = (await market.SendAsync(HttpMethod.Post, "api/v1/keys", new { name = "app-key", app = appId, direct = false })).GetProperty("key").GetString()!;
        await Wait.UntilAsync(() => market.ChatAsync(key, slug).Result == HttpStatusCode.OK, TimeSpan.FromSeconds(20), "the listing to be routable");
        Assert.Equal(HttpStatusCode.OK, await market.ChatAsync(key, slug));

        var month = sub.GetProperty("createdAt").GetDateTimeOffset().UtcDateTime.ToString("yyyy-MM", CultureInfo.InvariantCulture);
        var previous = DateTime.ParseExact(month + "-01", "yyyy-MM-dd", CultureInfo.InvariantCulture).AddMonths(-1).ToString("yyyy-MM", CultureInfo.InvariantCulture);
        // Usage is written before each answer completes: the API's statement has every call.
        var statement = await market.SendAsync(HttpMethod.Get, $"api/v1/statements?team={consumerTeam}&month={month}", null);
        var fee = Assert.Single(statement.GetProperty("subscriptions").EnumerateArray());
        var usage = Assert.Single(statement.GetProperty("usage").EnumerateArray());
        Assert.Equal(slug, usage.GetProperty("listing").GetString());
        var totals = statement.GetProperty("totals");
        Assert.True(totals.GetProperty("totalUsd").GetDecimal() > 0, "the plan's fee is worth dollars");

        await using var browser = await Browser.LaunchAsync();
        var shots = new Screenshots("statements");

        // A member of the consuming team: the navigation leads there, the month is typed and Enter shows it.
        var buyer = await browser.NewPageAsync(market.Host.BaseAddress);
        await PublishingJourneyTests.SignInAsync(buyer, "buyer", "another long passphrase");
        await buyer.GetByRole(AriaRole.Link, new() { Name = "Statements" }).ClickAsync();
        await Expect(buyer.GetByRole(AriaRole.Heading, new() { Name = "Statements", Level = 1 })).ToBeVisibleAsync();
        var monthField = buyer.GetByLabel("Month (YYYY-MM)");
        await monthField.TypeInAsync(month);
        await monthField.PressAsync("Enter");
        await Expect(buyer).ToHaveURLAsync(new Regex($"team={consumerTeam}&month={month}$"));
        await Expect(buyer.GetByTestId("statement-title")).ToHaveTextAsync($"{consumerName} · {month}");
        await Expect(buyer.GetByTestId("statement-state")).ToHaveTextAsync("month in progress");
        await Expect(buyer.GetByTestId("total-subscriptions")).ToHaveTextAsync(Rounded(totals.GetProperty("subscriptionsUsd").GetDecimal()));
        await Expect(buyer.GetByTestId("total-usage")).ToHaveTextAsync(Rounded(totals.GetProperty("usageUsd").GetDecimal()));
        await Expect(buyer.GetByTestId("total-adjustments")).ToHaveTextAsync("0.00 USD");
        await Expect(buyer.GetByTestId("total")).ToHaveTextAsync(Rounded(totals.GetProperty("totalUsd").GetDecimal()));
        var feeLine = buyer.GetByTestId("subscription-line");
        await Expect(feeLine).ToHaveCountAsync(1);
        await Expect(feeLine).ToContainTextAsync("pro");
        await Expect(feeLine).ToContainTextAsync($"{fee.GetProperty("days").GetInt32()} of {fee.GetProperty("daysInMonth").GetInt32()}");
        await Expect(feeLine.GetByTestId("line-amount")).ToHaveTextAsync(Precise(fee.GetProperty("amountUsd").GetDecimal()));
        var usageLine = buyer.GetByTestId("usage-line");
        await Expect(usageLine).ToHaveCountAsync(1);
        await Expect(usageLine).ToContainTextAsync(slug);
        await Expect(usageLine).ToContainTextAsync($"{usage.GetProperty("requests").GetInt64()} requests");
        await Expect(usageLine.GetByTestId("line-amount")).ToHaveTextAsync(Precise(usage.GetProperty("amountUsd").GetDecimal()));
        // A member adds no adjustment, and a team that publishes nothing has no revenue section.
        await Expect(buyer.GetByRole(AriaRole.Button, new() { Name = "Add adjustment" })).ToHaveCountAsync(0);
        await Expect(buyer.GetByTestId("revenue-total")).ToHaveCountAsync(0);

        // The CSV link downloads exactly what the API answers.
        var download = await buyer.RunAndWaitForDownloadAsync(() => buyer.GetByTestId("statement-csv").ClickAsync());
        Assert.Equal($"statement-{consumerTeam}-{month}.csv", download.SuggestedFilename);
        Assert.Equal(await CsvAsync(market, consumerTeam, month), await File.ReadAllTextAsync((await download.PathAsync())!));

        // Another month, then a mistyped one (its error next to the field), then back twice.
        await monthField.TypeInAsync(previous);
        await monthField.PressAsync("Enter");
        await Expect(buyer).ToHaveURLAsync(new Regex($"month={previous}$"));
        await Expect(buyer.GetByTestId("total")).ToHaveTextAsync("0.00 USD");
        await Expect(buyer.GetByTestId("subscription-line")).ToHaveCountAsync(0);
        await monthField.TypeInAsync("2026-13");
        await monthField.PressAsync("Enter");
        await Expect(buyer.GetByTestId("month-error")).ToContainTextAsync("'2026-13' is not a month");
        await Expect(monthField).ToHaveAttributeAsync("aria-invalid", "true");
        await buyer.GoBackAsync();
        await Expect(buyer).ToHaveURLAsync(new Regex($"month={previous}$"));
        await Expect(monthField).ToHaveValueAsync(previous);
        await Expect(buyer.GetByTestId("total")).ToHaveTextAsync("0.00 USD");
        await buyer.GoBackAsync();
        await Expect(monthField).ToHaveValueAsync(month);
        await Expect(buyer.GetByTestId("total")).ToHaveTextAsync(Rounded(totals.GetProperty("totalUsd").GetDecimal()));

        // An admin picks the team and adds a credit: first with mistakes (every error beside its field), then right.
        var root = await browser.NewPageAsync(market.Host.BaseAddress);
        await PublishingJourneyTests.SignInAsync(root, "root", "guard the gates carefully");
        await root.GetByRole(AriaRole.Link, new() { Name = "Statements" }).ClickAsync();
        await root.GetByLabel("Team", new() { Exact = true }).SelectOptionAsync(new SelectOptionValue { Label = consumerName });
        var rootMonth = root.GetByLabel("Month (YYYY-MM)");
        await rootMonth.TypeInAsync(month);
        await rootMonth.PressAsync("Enter");
        await Expect(root.GetByTestId("statement-title")).ToHaveTextAsync($"{consumerName} · {month}");
        var amount = root.GetByLabel("Amount (USD; negative for a credit)");
        await amount.TypeInAsync("-2.505");
        await amount.PressAsync("Enter");
        await Expect(root.GetByTestId("amount-error")).ToHaveTextAsync("The amount has at most two decimals (cents).");
        await Expect(root.GetByTestId("reason-error")).ToHaveTextAsync("A reason is required; it is shown on the statement.");
        await Expect(root.GetByTestId("adjustment-line")).ToHaveCountAsync(0);
        await amount.TypeInAsync("-2.50");
        var reason = root.GetByLabel("Reason (shown on the statement)");
        await reason.TypeInAsync("Outage credit");
        await reason.PressAsync("Enter");
        var adjustment = root.GetByTestId("adjustment-line");
        await Expect(adjustment).ToHaveCountAsync(1);
        await Expect(adjustment).ToContainTextAsync("Outage credit");
        await Expect(adjustment.GetByTestId("line-amount")).ToHaveTextAsync("-2.50 USD");
        await Expect(root.GetByTestId("amount-error")).ToHaveCountAsync(0);
        var adjusted = await market.SendAsync(HttpMethod.Get, $"api/v1/statements?team={consumerTeam}&month={month}", null);
        var adjustedTotals = adjusted.GetProperty("totals");
        Assert.Equal(-2.50m, adjustedTotals.GetProperty("adjustmentsUsd").GetDecimal());
        Assert.Equal("Outage credit", Assert.Single(adjusted.GetProperty("adjustments").EnumerateArray()).GetProperty("reason").GetString());
        await Expect(root.GetByTestId("total-adjustments")).ToHaveTextAsync("-2.50 USD");
        await Expect(root.GetByTestId("total")).ToHaveTextAsync(Rounded(adjustedTotals.GetProperty("totalUsd").GetDecimal()));
        Assert.Empty(await root.EvaluateAsync<string[]>(CatalogPageTests.UnlabelledControls));
        await shots.TakeAsync(root, "adjusted");

        // The publishing team: revenue per listing and plan, as the API answers it.
        var revenue = await market.SendAsync(HttpMethod.Get, $"api/v1/statements/publisher?team={publisherTeam}&month={month}", null);
        var listing = Assert.Single(revenue.GetProperty("listings").EnumerateArray());
        var planRevenue = Assert.Single(listing.GetProperty("plans").EnumerateArray());
        Assert.Equal(1, planRevenue.GetProperty("subscriptions").GetInt32());
        var owner = await browser.NewPageAsync(market.Host.BaseAddress);
        await PublishingJourneyTests.SignInAsync(owner, "owner", "correct horse battery staple");
        await owner.GotoAsync("/statements?month=" + month);
        var planRow = owner.GetByTestId("revenue-plan");
        await Expect(planRow).ToHaveCountAsync(1);
        await Expect(planRow).ToContainTextAsync(slug);
        await Expect(planRow).ToContainTextAsync("pro");
        await Expect(planRow).ToContainTextAsync("1 subscription");
        await Expect(planRow.GetByTestId("revenue-amount")).ToHaveTextAsync(Precise(planRevenue.GetProperty("amountUsd").GetDecimal()));
        await Expect(owner.GetByTestId("revenue-usage")).ToContainTextAsync($"{listing.GetProperty("requests").GetInt64()} requests");
        await Expect(owner.GetByTestId("revenue-usage").GetByTestId("revenue-amount")).ToHaveTextAsync(Rounded(listing.GetProperty("usageUsd").GetDecimal()));
        await Expect(owner.GetByTestId("revenue-listing").GetByTestId("revenue-amount")).ToHaveTextAsync(Rounded(listing.GetProperty("totalUsd").GetDecimal()));
        await Expect(owner.GetByTestId("revenue-total")).ToHaveTextAsync("Total revenue: " + Rounded(revenue.GetProperty("totalUsd").GetDecimal()));
        await shots.TakeAsync(owner, "revenue");

        // The publisher's member cannot read the consuming team's statement, by page or by download.
        await owner.GotoAsync($"/statements?team={consumerTeam}&month={month}");
        await Expect(owner.GetByTestId("statement-title")).ToHaveTextAsync($"{publisherName} · {month}");
        var refused = await owner.APIRequest.GetAsync($"portal/statements.csv?team={consumerTeam}&month={month}");
        Assert.Equal(404, refused.Status);
    }
}
