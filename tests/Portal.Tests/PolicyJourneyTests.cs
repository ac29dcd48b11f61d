namespace LlmMarketplace.Portal.Tests;

/// <summary>An admin tightens a policy in the browser; the developer's next playground call is refused with its reason.</summary>
public sealed class PolicyJourneyTests
{
    private const string Reason = "Zephyr is paused during the security review";

    [Fact]
    public async Task An_admin_changes_a_policy_and_the_playground_call_is_refused_with_the_policy_reason()
    {
        await using var market = await Marketplace.StartAsync();
        var team = await market.CreateTeamAsync("team-dev-" + Guid.NewGuid().ToString("N")[..6]);
        var publisher = await market.CreateTeamAsync("acme-" + Guid.NewGuid().ToString("N")[..6]);
        await market.CreateUserAsync("dev", "correct horse battery staple", [], team);
        await market.CreateUserAsync("admin", "guard the gates carefully", ["admin"]);
        var slug = "acme/zephyr-" + Guid.NewGuid().ToString("N")[..6];
        await market.PublishAsync(slug, "Acme Zephyr Chat", publisher);
        var app = (await market.SendAsync(HttpMethod.Post, "api/v1/apps", new { name = "chat-app", team })).GetProperty("id").GetString();
        var key = (await market.SendAsync(HttpMethod.Post, "api/v1/keys", new { name = "laptop", app, team, direct = false })).GetProperty("key").GetString()!;
        await market.SendAsync(HttpMethod.Post, "api/v1/policies", new
        {
            name = "model-guard",
            scope = "global",
            reason = "Legacy models are retired",
            rules = new { models = new { deny = new[] { "legacy/*" } } },
        });

        await using var browser = await Browser.LaunchAsync();
        var shots = new Screenshots("policy");

        // The developer's call goes through while the policy allows it.
        var developer = await browser.NewPageAsync(market.Host.BaseAddress);
        await PublishingJourneyTests.SignInAsync(developer, "dev", "correct horse battery staple");
        await developer.GotoAsync("/services/" + slug);
        await developer.GetByLabel("API key").PressSequentiallyAsync(key, Typing.PersonsPace);
        await developer.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
        await Expect(developer.GetByTestId("playground-output")).ToHaveTextAsync(Marketplace.Answer);

        // The admin edits the policy, checks it with a dry run, and saves it.
        var admin = await browser.NewPageAsync(market.Host.BaseAddress);
        await PublishingJourneyTests.SignInAsync(admin, "admin", "guard the gates carefully");
        await admin.GetByRole(AriaRole.Link, new() { Name = "Policies" }).ClickAsync();
        await admin.GetByText("model-guard · global · v1").ClickAsync();
        await Expect(admin.GetByRole(AriaRole.Heading, new() { Name = "Edit model-guard" })).ToBeVisibleAsync();
        // The admin clears the document and types the new one, line by line.
        var document = admin.GetByLabel("Policy document (YAML or JSON)");
        await document.ClearAsync();
        await document.PressSequentiallyAsync($$"""
            name: model-guard
            scope: global
            reason: {{Reason}}
            rules:
              models: {deny: ["legacy/*", "acme/zephyr-*"]}
            """, Typing.PersonsPace);
        await admin.GetByLabel("Sample model").PressSequentiallyAsync(slug, Typing.PersonsPace);
        await admin.GetByRole(AriaRole.Button, new() { Name = "Dry run" }).ClickAsync();
        await Expect(admin.GetByTestId("dry-run-result")).ToContainTextAsync($"Refused: model '{slug}' is denied by policy 'model-guard': {Reason}");
        await admin.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await Expect(admin.GetByTestId("policy-saved")).ToContainTextAsync("Saved model-guard as version 2");
        await shots.TakeAsync(admin, "policy-saved");

        // The developer's next call is refused, and the playground says why.
        await developer.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
        await Expect(developer.GetByTestId("playground-error")).ToContainTextAsync($"Refused by policy: model '{slug}' is denied by policy 'model-guard': {Reason}.");
        await Expect(developer.GetByTestId("playground-output")).ToBeEmptyAsync();
        await shots.TakeAsync(developer, "refused");
    }
}
