using System.Text.RegularExpressions;

namespace LlmMarketplace.Portal.Tests;

/// <summary>A publisher lists a service in the browser, an approver clears it, and developers find it.</summary>
public sealed class PublishingJourneyTests
{
    [Fact]
    public async Task A_publisher_submits_a_service_an_approver_approves_it_and_it_appears_in_search()
    {
        await using var market = await Marketplace.StartAsync();
        var team = await market.CreateTeamAsync("nimbus-" + Guid.NewGuid().ToString("N")[..6]);
        await market.CreateUserAsync("publisher", "correct horse battery staple", [], team);
        await market.CreateUserAsync("approver", "another long passphrase", ["approver"]);
        var slug = "nimbus/orbit-" + Guid.NewGuid().ToString("N")[..6];

        await using var browser = await Browser.LaunchAsync();
        var shots = new Screenshots("publishing");

        // The publisher fills the wizard; mistakes show next to their fields, live and from the API.
        var publisher = await browser.NewPageAsync(market.Host.BaseAddress);
        await SignInAsync(publisher, "publisher", "correct horse battery staple");
        await publisher.GetByRole(AriaRole.Link, new() { Name = "Publish a service" }).ClickAsync();
        await publisher.GetByLabel("Name", new() { Exact = true }).TypeInAsync("Nimbus Orbit");
        await publisher.GetByLabel("Model name (slug)").TypeInAsync("Nimbus Orbit!");
        await Expect(publisher.GetByText("must be 1–128 lower-case letters, digits and . _ ~ : / -")).ToBeVisibleAsync();
        await publisher.GetByLabel("Model name (slug)").TypeInAsync(slug);
        await Expect(publisher.GetByText("must be 1–128 lower-case letters, digits and . _ ~ : / -")).ToBeHiddenAsync();
        await publisher.GetByLabel("Description (markdown)").TypeInAsync("Orbit is a **fast** chat model.");
        await publisher.GetByLabel("Context length (tokens)").TypeInAsync("65536");
        await publisher.GetByLabel("Input price (USD per 1M tokens)").TypeInAsync("0.25");
        await publisher.GetByLabel("Output price (USD per 1M tokens)").TypeInAsync("1.25");
        await publisher.GetByLabel("Provider name (deployment 1)").TypeInAsync("nimbus-cloud");
        await publisher.GetByLabel("Upstream model (deployment 1)").TypeInAsync("tiny-1");
        await publisher.GetByLabel("Base URL (deployment 1)").TypeInAsync(market.Upstream.BaseUrl + "/v1");
        // More output than context: only the API knows that rule; its error lands next to the field.
        await publisher.GetByLabel("Max output tokens").TypeInAsync("100000");
        await publisher.GetByRole(AriaRole.Button, new() { Name = "Create draft" }).ClickAsync();
        await Expect(publisher.GetByRole(AriaRole.Alert).Filter(new() { HasText = "problem" })).ToContainTextAsync("1 problem");
        var maxOutput = publisher.Locator(".mud-input-control").Filter(new() { Has = publisher.GetByLabel("Max output tokens") });
        await Expect(maxOutput).ToContainTextAsync("must not exceed contextLength (65536)");
        await shots.TakeAsync(publisher, "wizard-errors");
        await publisher.GetByLabel("Max output tokens").TypeInAsync("4096");
        await publisher.GetByRole(AriaRole.Button, new() { Name = "Create draft" }).ClickAsync();
        await Expect(publisher.GetByTestId("version-state")).ToHaveTextAsync("draft");
        await publisher.GetByRole(AriaRole.Button, new() { Name = "Submit for approval" }).ClickAsync();
        await Expect(publisher.GetByTestId("version-state")).ToHaveTextAsync("pending_approval");
        await Expect(publisher.GetByTestId("check-row")).ToContainTextAsync("pass");
        await shots.TakeAsync(publisher, "submitted");

        // The approver does not find it in search yet, and approves it from the queue.
        var approver = await browser.NewPageAsync(market.Host.BaseAddress);
        await SignInAsync(approver, "approver", "another long passphrase");
        await approver.GotoAsync("/?q=orbit");
        await Expect(approver.GetByTestId("result-count")).ToHaveTextAsync("0 services");
        await approver.GetByRole(AriaRole.Link, new() { Name = "Approvals" }).ClickAsync();
        var item = approver.GetByTestId("approval-item").Filter(new() { HasText = slug });
        await Expect(item).ToContainTextAsync("Checks: passed");
        await shots.TakeAsync(approver, "queue");
        await item.GetByRole(AriaRole.Button, new() { Name = "Approve Nimbus Orbit" }).ClickAsync();
        await Expect(approver.GetByTestId("decided")).ToContainTextAsync($"{slug} v1.0.0: approved, now published");
        await Expect(approver.GetByTestId("approvals-empty")).ToBeVisibleAsync();

        // The publisher sees it published; anyone finds it in search.
        await publisher.GetByRole(AriaRole.Button, new() { Name = "Refresh status" }).ClickAsync();
        await Expect(publisher.GetByTestId("version-state")).ToHaveTextAsync("published");
        await approver.GotoAsync("/?q=orbit");
        await Expect(approver.GetByTestId("result-card").Filter(new() { HasText = "Nimbus Orbit" })).ToContainTextAsync("$0.25 / $1.25");
        await shots.TakeAsync(approver, "in-search");
    }

    internal static async Task SignInAsync(IPage page, string username, string password)
    {
        await page.GotoAsync("/login");
        await page.GetByLabel("User name").TypeInAsync(username);
        await page.GetByLabel("Password").TypeInAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await Expect(page.GetByTestId("signed-in-as")).ToHaveTextAsync(username);
        await Expect(page).Not.ToHaveURLAsync(new Regex("/login"));
    }
}
