using LlmMarketplace.Governance.Identity;
using LlmMarketplace.Host.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmMarketplace.Governance.Tests.Identity;

/// <summary>Login, lockout, token lifetime and tampering, refresh rotation, logout and first-run bootstrap, through the real host.</summary>
public sealed class LoginTests
{
    private static async Task<JsonElement> AuditAsync(TestKit.GatewayHost host, string query) =>
        (await host.Client.GetFromJsonAsync<JsonElement>("api/v1/audit?" + query)).GetProperty("data");

    [Theory]
    [OnEachStorage]
    public async Task Five_wrong_passwords_lock_the_account_until_the_timeout_or_an_admin_unlock(string provider)
    {
        var time = Gov.Clock();
        await using var host = await Gov.StartOnAsync(provider, time: time, overrides: new Dictionary<string, string?> { ["Governance:LockoutMinutes"] = "15" });
        var (id, username) = await Gov.CreateUserAsync(host, Roles.Viewer);

        for (var i = 0; i < 5; i++)
        {
            using var wrong = await Gov.LoginAsync(host, username, "not the password " + i);
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }
        using (var locked = await Gov.LoginAsync(host, username, Gov.Password))
        {
            Assert.Equal(HttpStatusCode.Locked, locked.StatusCode);
            Assert.Equal("account_locked", (await Gov.JsonAsync(locked)).GetProperty("code").GetString());
        }
        var user = await host.Client.GetFromJsonAsync<JsonElement>($"api/v1/users/{id}");
        Assert.True(user.GetProperty("locked").GetBoolean());
        Assert.Equal(1, (await AuditAsync(host, $"action=user.locked&targetId={id}")).GetArrayLength());
        Assert.Equal(6, (await AuditAsync(host, $"action=auth.login&outcome=failure&targetId={id}")).GetArrayLength());

        // Still locked a minute before the timeout, open after it.
        time.Advance(TimeSpan.FromMinutes(14));
        using (var stillLocked = await Gov.LoginAsync(host, username, Gov.Password)) Assert.Equal(HttpStatusCode.Locked, stillLocked.StatusCode);
        time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        using (var open = await Gov.LoginAsync(host, username, Gov.Password)) Assert.Equal(HttpStatusCode.OK, open.StatusCode);

        // Lock again, then an admin unlocks before the timeout.
        for (var i = 0; i < 5; i++) (await Gov.LoginAsync(host, username, "wrong again " + i)).Dispose();
        using (var relocked = await Gov.LoginAsync(host, username, Gov.Password)) Assert.Equal(HttpStatusCode.Locked, relocked.StatusCode);
        using (var viewer = await Gov.ClientForRoleAsync(host, Roles.Viewer))
        using (var refused = await viewer.PostAsync($"api/v1/users/{id}/unlock", null))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }
        using (var unlock = await host.Client.PostAsync($"api/v1/users/{id}/unlock", null)) Assert.Equal(HttpStatusCode.OK, unlock.StatusCode);
        using (var after = await Gov.LoginAsync(host, username, Gov.Password)) Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(1, (await AuditAsync(host, $"action=user.unlocked&targetId={id}")).GetArrayLength());
    }

    [Fact]
    public async Task Concurrent_wrong_passwords_cannot_slip_past_the_lockout()
    {
        await using var host = await Gov.StartAsync();
        var (id, username) = await Gov.CreateUserAsync(host, Roles.Viewer);
        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => Gov.LoginAsync(host, username, "guess number " + i)));
        Assert.All(responses, static r => Assert.True(r.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Locked));
        foreach (var r in responses) r.Dispose();
        using var correct = await Gov.LoginAsync(host, username, Gov.Password);
        Assert.Equal(HttpStatusCode.Locked, correct.StatusCode);
        Assert.True((await host.Client.GetFromJsonAsync<JsonElement>($"api/v1/users/{id}")).GetProperty("locked").GetBoolean());
    }

    [Theory]
    [OnEachStorage]
    public async Task An_access_token_expires_on_the_clock_and_a_refresh_token_rotates(string provider)
    {
        var time = Gov.Clock();
        await using var host = await Gov.StartOnAsync(provider, time: time, overrides: new Dictionary<string, string?> { ["Governance:AccessTokenMinutes"] = "15" });
        var (id, username) = await Gov.CreateUserAsync(host, Roles.Viewer, teams: ["team-a"]);
        var tokens = await Gov.TokensAsync(host, username);
        using var client = Gov.WithToken(host, tokens.GetProperty("accessToken").GetString()!);

        var me = await client.GetFromJsonAsync<JsonElement>("api/v1/auth/me");
        Assert.Equal(id, me.GetProperty("id").GetString());
        Assert.Equal([Roles.Viewer], me.GetProperty("roles").EnumerateArray().Select(static r => r.GetString()!).ToArray());
        Assert.Equal(["team-a"], me.GetProperty("teams").EnumerateArray().Select(static r => r.GetString()!).ToArray());

        time.Advance(TimeSpan.FromMinutes(16));
        using (var expired = await client.GetAsync("api/v1/auth/me"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
            Assert.Contains("expired", (await Gov.JsonAsync(expired)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        using var anonymous = Gov.Anonymous(host);
        var refreshToken = tokens.GetProperty("refreshToken").GetString()!;
        using var refreshed = await anonymous.PostAsJsonAsync("api/v1/auth/refresh", new { refreshToken });
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        var pair = await Gov.JsonAsync(refreshed);
        using (var renewed = Gov.WithToken(host, pair.GetProperty("accessToken").GetString()!))
        {
            Assert.Equal(HttpStatusCode.OK, (await renewed.GetAsync("api/v1/auth/me")).StatusCode);
        }
        // The old refresh token was rotated away; its reuse means a copy leaked, so the whole session ends.
        using var reused = await anonymous.PostAsJsonAsync("api/v1/auth/refresh", new { refreshToken });
        Assert.Equal(HttpStatusCode.Unauthorized, reused.StatusCode);
        Assert.Equal("refresh_token_reused", (await Gov.JsonAsync(reused)).GetProperty("code").GetString());
        using (var renewed = Gov.WithToken(host, pair.GetProperty("accessToken").GetString()!))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await renewed.GetAsync("api/v1/auth/me")).StatusCode);
        }
        using var successor = await anonymous.PostAsJsonAsync("api/v1/auth/refresh", new { refreshToken = pair.GetProperty("refreshToken").GetString() });
        Assert.Equal(HttpStatusCode.Unauthorized, successor.StatusCode);
    }

    [Fact]
    public async Task A_tampered_token_is_refused_and_changes_nothing()
    {
        await using var host = await Gov.StartAsync();
        var (_, username) = await Gov.CreateUserAsync(host, Roles.Viewer);
        var token = (await Gov.TokensAsync(host, username)).GetProperty("accessToken").GetString()!;
        var parts = token.Split('.');
        // Promote the viewer to super_admin in the payload, keeping the signature.
        var payload = Encoding.UTF8.GetString(Convert.FromBase64String(parts[1].Replace('-', '+').Replace('_', '/').PadRight(parts[1].Length + ((4 - (parts[1].Length % 4)) % 4), '=')));
        Assert.Contains("\"viewer\"", payload, StringComparison.Ordinal);
        var forged = Convert.ToBase64String(Encoding.UTF8.GetBytes(payload.Replace("\"viewer\"", "\"super_admin\"", StringComparison.Ordinal))).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        using var client = Gov.WithToken(host, $"{parts[0]}.{forged}.{parts[2]}");
        using var response = await client.PostAsJsonAsync("api/v1/users", new { username = Gov.Unique("evil"), roles = new[] { "super_admin" } });
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("invalid", (await Gov.JsonAsync(response)).GetProperty("detail").GetString(), StringComparison.Ordinal);

        // "alg: none" is refused too.
        using var none = Gov.WithToken(host, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + forged + ".");
        Assert.Equal(HttpStatusCode.Unauthorized, (await none.GetAsync("api/v1/auth/me")).StatusCode);
        var users = await host.Client.GetFromJsonAsync<JsonElement>("api/v1/users");
        Assert.DoesNotContain(users.GetProperty("data").EnumerateArray(), static u => u.GetProperty("username").GetString()!.StartsWith("evil", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Logout_ends_the_session_of_the_access_token_and_its_refresh_token()
    {
        await using var host = await Gov.StartAsync();
        var (_, username) = await Gov.CreateUserAsync(host, Roles.Admin);
        var tokens = await Gov.TokensAsync(host, username);
        using var client = Gov.WithToken(host, tokens.GetProperty("accessToken").GetString()!);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/v1/users")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await client.PostAsync("api/v1/auth/logout", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("api/v1/users")).StatusCode);
        using var anonymous = Gov.Anonymous(host);
        using var refresh = await anonymous.PostAsJsonAsync("api/v1/auth/refresh", new { refreshToken = tokens.GetProperty("refreshToken").GetString() });
        Assert.Equal(HttpStatusCode.Unauthorized, refresh.StatusCode);
    }

    [Fact]
    public async Task An_unknown_role_or_a_weak_password_is_refused_with_every_error_and_nothing_is_created()
    {
        await using var host = await Gov.StartAsync();
        var username = Gov.Unique("bad");
        using var response = await host.Client.PostAsJsonAsync("api/v1/users", new { username, password = "short", roles = new[] { "viewer", "overlord" }, teams = new[] { new { id = "" } } });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await Gov.JsonAsync(response)).GetProperty("errors");
        Assert.Contains("overlord", errors.GetProperty("roles[1]")[0].GetString(), StringComparison.Ordinal);
        Assert.True(errors.TryGetProperty("password", out _));
        Assert.True(errors.TryGetProperty("teams[0].id", out _));
        using (var login = await Gov.LoginAsync(host, username, "short")) Assert.Equal(HttpStatusCode.Unauthorized, login.StatusCode);

        var (id, _) = await Gov.CreateUserAsync(host, Roles.Viewer);
        using var setRoles = await host.Client.PutAsJsonAsync($"api/v1/users/{id}/roles", new { roles = new[] { "admin", "root" } });
        Assert.Equal(HttpStatusCode.BadRequest, setRoles.StatusCode);
        var user = await host.Client.GetFromJsonAsync<JsonElement>($"api/v1/users/{id}");
        Assert.Equal([Roles.Viewer], user.GetProperty("roles").EnumerateArray().Select(static r => r.GetString()!).ToArray());
    }

    [Fact]
    public async Task Only_a_super_admin_grants_super_admin_and_role_changes_are_audited_with_before_and_after()
    {
        await using var host = await Gov.StartAsync();
        var (id, _) = await Gov.CreateUserAsync(host, Roles.Viewer);
        using var admin = await Gov.ClientForRoleAsync(host, Roles.Admin);
        using (var refused = await admin.PutAsJsonAsync($"api/v1/users/{id}/roles", new { roles = new[] { "super_admin" } }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }
        using (var ok = await admin.PutAsJsonAsync($"api/v1/users/{id}/roles", new { roles = new[] { "approver" } }))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }
        var entry = (await AuditAsync(host, $"action=user.roles_changed&targetId={id}"))[0];
        Assert.Equal("viewer", entry.GetProperty("before").GetProperty("roles")[0].GetString());
        Assert.Equal("approver", entry.GetProperty("after").GetProperty("roles")[0].GetString());
        Assert.Equal("access_token", entry.GetProperty("actorKind").GetString());
        Assert.Equal("127.0.0.1", entry.GetProperty("ip").GetString());
    }

    [Fact]
    public async Task Removing_a_role_takes_effect_at_once()
    {
        await using var host = await Gov.StartAsync();
        var (id, username) = await Gov.CreateUserAsync(host, Roles.Admin);
        using var client = Gov.WithToken(host, (await Gov.TokensAsync(host, username)).GetProperty("accessToken").GetString()!);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("api/v1/users")).StatusCode);
        using (var demote = await host.Client.PutAsJsonAsync($"api/v1/users/{id}/roles", new { roles = new[] { "viewer" } })) Assert.Equal(HttpStatusCode.OK, demote.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("api/v1/users")).StatusCode);
        using var again = Gov.WithToken(host, (await Gov.TokensAsync(host, username)).GetProperty("accessToken").GetString()!);
        Assert.Equal(HttpStatusCode.Forbidden, (await again.GetAsync("api/v1/users")).StatusCode);
    }

    [Theory]
    [OnEachStorage]
    public async Task Service_account_tokens_authenticate_until_the_account_is_deleted(string provider)
    {
        await using var host = await Gov.StartOnAsync(provider);
        using var created = await host.Client.PostAsJsonAsync("api/v1/service-accounts", new { name = Gov.Unique("ci"), teams = new[] { new { id = "team-ci" } } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await Gov.JsonAsync(created);
        using var client = Gov.WithToken(host, body.GetProperty("token").GetString()!);
        var me = await client.GetFromJsonAsync<JsonElement>("api/v1/auth/me");
        Assert.Equal("service_token", me.GetProperty("credential").GetString());
        Assert.Contains("service_account", me.GetProperty("roles").EnumerateArray().Select(static r => r.GetString()));
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("api/v1/users")).StatusCode);
        var list = await host.Client.GetStringAsync("api/v1/service-accounts");
        Assert.DoesNotContain(body.GetProperty("token").GetString()!, list, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.NoContent, (await host.Client.DeleteAsync($"api/v1/service-accounts/{body.GetProperty("account").GetProperty("id").GetString()}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("api/v1/auth/me")).StatusCode);
    }

    [Fact]
    public async Task The_first_run_without_a_master_key_creates_an_admin_whose_one_time_password_must_be_changed()
    {
        var data = Path.Combine(Path.GetTempPath(), "llmm-tests", Guid.NewGuid().ToString("N"));
        var console = new StringWriter();
        var app = MarketplaceApp.Build(new HostSettings
        {
            DataDirectory = data,
            Urls = "http://127.0.0.1:0",
            MasterKey = "", // explicitly none
            ConfigureServices = s => s.AddSingleton(new BootstrapConsole(console)),
        });
        await app.StartAsync();
        try
        {
            var printed = console.ToString();
            var line = printed.Split('\n').Single(static l => l.Contains("one-time password:", StringComparison.Ordinal));
            var password = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
            Assert.True(password.Length >= 20);
            using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First().TrimEnd('/') + "/") };

            using (var first = await client.PostAsJsonAsync("api/v1/auth/login", new { username = "admin", password }))
            {
                Assert.Equal(HttpStatusCode.Forbidden, first.StatusCode);
                Assert.Equal("password_change_required", (await Gov.JsonAsync(first)).GetProperty("code").GetString());
            }
            using (var weak = await client.PostAsJsonAsync("api/v1/auth/password", new { username = "admin", currentPassword = password, newPassword = "admin" }))
            {
                Assert.Equal(HttpStatusCode.BadRequest, weak.StatusCode);
            }
            using (var changed = await client.PostAsJsonAsync("api/v1/auth/password", new { username = "admin", currentPassword = password, newPassword = Gov.Password }))
            {
                Assert.Equal(HttpStatusCode.NoContent, changed.StatusCode);
            }
            using var login = await client.PostAsJsonAsync("api/v1/auth/login", new { username = "admin", password = Gov.Password });
            Assert.Equal(HttpStatusCode.OK, login.StatusCode);
            // The one-time password is spent.
            using var again = await client.PostAsJsonAsync("api/v1/auth/login", new { username = "admin", password });
            Assert.Equal(HttpStatusCode.Unauthorized, again.StatusCode);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }

        // A second start prints nothing: there is a user already.
        var second = new StringWriter();
        var app2 = MarketplaceApp.Build(new HostSettings { DataDirectory = data, Urls = "http://127.0.0.1:0", MasterKey = "", ConfigureServices = s => s.AddSingleton(new BootstrapConsole(second)) });
        await app2.StartAsync();
        await app2.StopAsync();
        await app2.DisposeAsync();
        Assert.DoesNotContain("one-time password", second.ToString(), StringComparison.Ordinal);
    }
}
