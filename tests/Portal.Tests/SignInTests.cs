namespace LlmMarketplace.Portal.Tests;

/// <summary>Signing in: wrong passwords, the first-sign-in password change, signing out, role-based navigation.</summary>
public sealed class SignInTests
{
    [Fact]
    public async Task A_new_user_sets_a_password_at_first_sign_in_sees_only_their_navigation_and_signs_out()
    {
        await using var market = await Marketplace.StartAsync();
        var team = await market.CreateTeamAsync("team-" + Guid.NewGuid().ToString("N")[..6]);
        var created = await market.SendAsync(HttpMethod.Post, "api/v1/users", new { username = "newcomer", teams = new[] { new { id = team } } });
        var oneTime = created.GetProperty("oneTimePassword").GetString()!;

        await using var browser = await Browser.LaunchAsync();
        var page = await browser.NewPageAsync(market.Host.BaseAddress);
        await page.GotoAsync("/login");
        await page.GetByLabel("User name").TypeInAsync("newcomer");
        await page.GetByLabel("Password", new() { Exact = true }).TypeInAsync("not the password at all");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToBeVisibleAsync();
        // The answer keeps the user name and never carries the password back.
        await Expect(page.GetByLabel("User name")).ToHaveValueAsync("newcomer");
        await Expect(page.GetByLabel("Password", new() { Exact = true })).ToHaveValueAsync("");

        await page.GetByLabel("Password", new() { Exact = true }).TypeInAsync(oneTime);
        await page.GetByLabel("Password", new() { Exact = true }).PressAsync("Enter");
        // The first sign-in asks for a new password: the given one again, and the new one.
        await page.GetByLabel("Password", new() { Exact = true }).TypeInAsync(oneTime);
        await page.GetByLabel("New password").TypeInAsync("a brand new passphrase");
        await page.GetByLabel("New password").PressAsync("Enter");
        await Expect(page.GetByTestId("signed-in-as")).ToHaveTextAsync("newcomer");
        await new Screenshots("sign-in").TakeAsync(page, "first-sign-in");

        // A member without roles: no approvals, no administration.
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "My apps and keys" })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Approvals" })).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Audit log" })).ToHaveCountAsync(0);

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in", Level = 1 })).ToBeVisibleAsync();
        await page.GotoAsync("/apps");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/login"));
    }

    [Fact]
    public async Task The_master_key_signs_in_as_super_admin_so_a_fresh_installation_can_create_its_people()
    {
        await using var market = await Marketplace.StartAsync();
        await using var browser = await Browser.LaunchAsync();
        var page = await browser.NewPageAsync(market.Host.BaseAddress);
        await page.GotoAsync("/login");
        await page.GetByLabel("API key or token").TypeInAsync(market.Host.MasterKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in with the key" }).ClickAsync();
        await Expect(page.GetByTestId("signed-in-as")).Not.ToBeEmptyAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Users and roles" }).ClickAsync();
        await page.GetByLabel("New user name").TypeInAsync("first-admin");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create user" }).ClickAsync();
        await Expect(page.GetByText("One-time password")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("user-row").Filter(new() { HasText = "first-admin" })).ToBeVisibleAsync();
        await new Screenshots("sign-in").TakeAsync(page, "master-key-users");
    }
}
