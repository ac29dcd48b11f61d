using System.Security.Cryptography;
using System.Web;

namespace LlmMarketplace.Governance.Tests.Identity;

/// <summary>OpenID Connect sign-in against a real (in-test) identity provider: the code flow with PKCE, and id-token exchange.</summary>
public sealed class OidcSignInTests : IAsyncLifetime
{
    private FakeOidcProvider _idp = null!;

    public async Task InitializeAsync() => _idp = await FakeOidcProvider.StartAsync();

    public async Task DisposeAsync() => await _idp.DisposeAsync();

    private Dictionary<string, string?> Settings => new()
    {
        ["Governance:Oidc:Authority"] = _idp.Issuer,
        ["Governance:Oidc:ClientId"] = FakeOidcProvider.ClientId,
        ["Governance:Oidc:RedirectUri"] = "http://127.0.0.1/after-sign-in",
    };

    [Fact]
    public async Task The_code_flow_with_pkce_signs_a_person_in_with_the_roles_and_teams_of_the_provider()
    {
        await using var host = await Gov.StartAsync(overrides: Settings);
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = host.BaseAddress };

        using var start = await browser.GetAsync("api/v1/auth/oidc/login");
        Assert.Equal(HttpStatusCode.Redirect, start.StatusCode);
        var authorize = start.Headers.Location!;
        Assert.StartsWith(_idp.Issuer + "/authorize", authorize.ToString(), StringComparison.Ordinal);
        Assert.Equal("S256", HttpUtility.ParseQueryString(authorize.Query)["code_challenge_method"]);

        using var signedIn = await browser.GetAsync(authorize);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        var back = HttpUtility.ParseQueryString(signedIn.Headers.Location!.Query);
        var callback = $"api/v1/auth/oidc/callback?code={back["code"]}&state={Uri.EscapeDataString(back["state"]!)}";

        using var tokens = await browser.GetAsync(callback);
        Assert.Equal(HttpStatusCode.OK, tokens.StatusCode);
        using var client = Gov.WithToken(host, (await Gov.JsonAsync(tokens)).GetProperty("accessToken").GetString()!);
        var me = await client.GetFromJsonAsync<JsonElement>("api/v1/auth/me");
        Assert.Equal("ada", me.GetProperty("name").GetString());
        Assert.Equal(["approver"], me.GetProperty("roles").EnumerateArray().Select(static r => r.GetString()!).ToArray());
        Assert.Equal(["team-oidc"], me.GetProperty("teams").EnumerateArray().Select(static r => r.GetString()!).ToArray());

        // A state is good for one sign-in only.
        using var replay = await browser.GetAsync(callback);
        Assert.Equal(HttpStatusCode.Unauthorized, replay.StatusCode);
    }

    [Fact]
    public async Task An_id_token_is_accepted_only_from_the_provider_for_this_client_and_while_valid()
    {
        await using var host = await Gov.StartAsync(overrides: Settings);
        using var anonymous = Gov.Anonymous(host);
        var person = new Dictionary<string, object> { ["sub"] = "person-2", ["email"] = "grace@example.test" };

        using (var ok = await anonymous.PostAsJsonAsync("api/v1/auth/oidc/token", new { idToken = _idp.IdToken(person) }))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }
        using var otherKey = RSA.Create(2048);
        foreach (var bad in new[]
        {
            _idp.IdToken(person, key: otherKey),
            _idp.IdToken(person, audience: "someone-else"),
            _idp.IdToken(person, expires: DateTime.UtcNow.AddMinutes(-30)),
        })
        {
            using var refused = await anonymous.PostAsJsonAsync("api/v1/auth/oidc/token", new { idToken = bad });
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }
        var failures = await host.Client.GetFromJsonAsync<JsonElement>("api/v1/audit?action=auth.login&outcome=failure");
        Assert.Equal(3, failures.GetProperty("total").GetInt64());
        // The same person signing in again is the same user.
        using (var again = await anonymous.PostAsJsonAsync("api/v1/auth/oidc/token", new { idToken = _idp.IdToken(person) })) Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var users = await host.Client.GetFromJsonAsync<JsonElement>("api/v1/users");
        Assert.Equal(1, users.GetProperty("data").EnumerateArray().Count(static u => u.GetProperty("username").GetString() == "grace@example.test"));
    }

    [Fact]
    public async Task Without_configuration_the_oidc_endpoints_say_so()
    {
        await using var host = await Gov.StartAsync();
        using var anonymous = Gov.Anonymous(host);
        using var response = await anonymous.PostAsJsonAsync("api/v1/auth/oidc/token", new { idToken = "x" });
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("oidc_not_configured", (await Gov.JsonAsync(response)).GetProperty("code").GetString());
    }
}
