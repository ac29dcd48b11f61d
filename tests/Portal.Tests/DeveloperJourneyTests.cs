using System.Text.RegularExpressions;
using LlmMarketplace.Portal.Client;

namespace LlmMarketplace.Portal.Tests;

/// <summary>End to end in headless Chromium through the real host and a real upstream on loopback.</summary>
public sealed class DeveloperJourneyTests
{
    [Fact]
    public async Task A_developer_signs_in_finds_a_service_subscribes_creates_a_key_chats_in_the_playground_and_sees_the_call_in_usage()
    {
        await using var market = await Marketplace.StartAsync(new Dictionary<string, string?>
        {
            // One call is enough to judge the listing against its SLA, and every page reads fresh measurements.
            ["Insights:SlaMinRequests"] = "1",
            ["Insights:ServiceLevelRefresh"] = "00:00:00",
        });
        var team = await market.CreateTeamAsync("team-dev-" + Guid.NewGuid().ToString("N")[..6]);
        var publisher = await market.CreateTeamAsync("acme-" + Guid.NewGuid().ToString("N")[..6]);
        await market.CreateUserAsync("dev", "correct horse battery staple", [], team);
        var slug = "acme/zephyr-" + Guid.NewGuid().ToString("N")[..6];
        await market.PublishAsync(slug, "Acme Zephyr Chat", publisher);
        await market.CreatePlanAsync(slug, "starter");

        await using var browser = await Browser.LaunchAsync();
        var page = await browser.NewPageAsync(market.Host.BaseAddress);
        var shots = new Screenshots("developer");

        // Signs in.
        await page.GotoAsync("/");
        await Expect(page).ToHaveURLAsync(new Regex("/login"));
        await page.GetByLabel("User name").TypeInAsync("dev");
        await page.GetByLabel("Password").TypeInAsync("correct horse battery staple");
        await shots.TakeAsync(page, "sign-in");
        await page.GetByLabel("Password").PressAsync("Enter");
        await Expect(page.GetByTestId("signed-in-as")).ToHaveTextAsync("dev");

        // Searches with autocomplete; the search lands in the address.
        await page.GetByLabel("Search the catalog").TypeInAsync("zephyr");
        await page.GetByLabel("Search the catalog").PressAsync("Enter");
        await Expect(page).ToHaveURLAsync(new Regex(@"\?q=zephyr"));
        var card = page.GetByTestId("result-card").Filter(new() { HasText = "Acme Zephyr Chat" });
        await Expect(card).ToContainTextAsync("$2 / $6");
        await Expect(card).ToContainTextAsync("32.8K tokens");
        await Expect(card.GetByTestId("card-measured-sla")).ToHaveTextAsync("no traffic yet");
        await shots.TakeAsync(page, "search");

        // Opens the service: its markdown description is rendered.
        await card.GetByRole(AriaRole.Link, new() { Name = "Acme Zephyr Chat", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Acme Zephyr Chat", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.Locator(".llmm-markdown strong").First).ToHaveTextAsync("tiny");

        // Subscribes a new app to the plan.
        await page.GetByLabel("New app name").TypeInAsync("chat-app");
        await page.GetByRole(AriaRole.Button, new() { Name = "Subscribe" }).ClickAsync();
        await Expect(page.GetByTestId("subscription-status")).ToContainTextAsync("chat-app: starter · active");
        await shots.TakeAsync(page, "subscribed");

        // Creates a key for the app: shown once.
        await page.GetByRole(AriaRole.Link, new() { Name = "My apps and keys" }).ClickAsync();
        await page.GetByLabel("Key name").TypeInAsync("laptop");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
        var secretField = page.GetByLabel("New API key");
        await Expect(secretField).Not.ToHaveValueAsync("");
        var secret = await secretField.InputValueAsync();
        await Expect(page.GetByTestId("key-row").Filter(new() { HasText = "laptop" })).ToContainTextAsync("active");
        await shots.TakeAsync(page, "key-created");

        // Runs the playground with that key: the answer streams in, with tokens and cost.
        await page.GotoAsync("/services/" + slug);
        await page.GetByLabel("API key").TypeInAsync(secret);
        await page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
        await Expect(page.GetByTestId("playground-output")).ToHaveTextAsync(Marketplace.Answer);
        await Expect(page.GetByTestId("playground-usage")).ToContainTextAsync("Tokens: 11 in, 7 out");
        await Expect(page.GetByTestId("playground-usage")).ToContainTextAsync("Cost: $0.000064");
        await shots.TakeAsync(page, "playground");

        // The call is measured: the service page shows declared and measured service level side by side, and the
        // search card the measured figures.
        var measured = default(JsonElement);
        await Wait.UntilAsync(() =>
        {
            measured = market.SendAsync(HttpMethod.Get, "api/v1/services/" + Uri.EscapeDataString(slug), null).Result.GetProperty("measuredSla");
            return measured.GetProperty("requests").GetInt64() == 1;
        }, TimeSpan.FromSeconds(30), "the playground call to be measured");
        var p95 = measured.GetProperty("p95LatencyMs").GetDouble();
        await page.GotoAsync("/services/" + slug);
        var serviceLevel = page.GetByTestId("service-level");
        await Expect(serviceLevel).ToContainTextAsync("≤ 800 ms");
        await Expect(serviceLevel).ToContainTextAsync("≥ 99.9 %");
        await Expect(serviceLevel.GetByTestId("measured-p95")).ToHaveTextAsync(Format.Latency(p95));
        await Expect(serviceLevel.GetByTestId("measured-uptime")).ToHaveTextAsync("100 %");
        // The verdict follows the measurement (a busy machine can make one call slower than the declared 800 ms).
        await Expect(serviceLevel.GetByTestId("sla-verdict")).ToHaveTextAsync(p95 <= 800 ? "meets target" : "misses target");
        await Expect(serviceLevel.GetByTestId("measured-calls")).ToContainTextAsync("1 call measured since");
        await shots.TakeAsync(page, "service-level");
        await page.GotoAsync("/?q=zephyr");
        await Expect(card.GetByTestId("card-measured-sla")).ToHaveTextAsync($"p95 {Format.Latency(p95)} · 100 % uptime");
        await shots.TakeAsync(page, "search-measured");

        // Sees the call in usage.
        await page.GetByRole(AriaRole.Link, new() { Name = "Usage and cost" }).ClickAsync();
        await Expect(page.GetByTestId("usage-row").Filter(new() { HasText = slug })).ToContainTextAsync("11 / 7");
        await Expect(page.GetByTestId("total-requests")).ToHaveTextAsync("1");
        await Expect(page.GetByRole(AriaRole.Img, new() { Name = "Cost by model" })).ToBeVisibleAsync();
        await shots.TakeAsync(page, "usage");

        // And exports it as CSV.
        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Export CSV" }).ClickAsync());
        var csv = await File.ReadAllTextAsync(await download.PathAsync());
        Assert.Contains(slug, csv, StringComparison.Ordinal);
        Assert.StartsWith("requestId,", csv, StringComparison.Ordinal);
    }
}
