using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.Governance.Tests.Infrastructure;

namespace LlmMarketplace.Access.Tests.Keys;

/// <summary>
/// A key's identity cannot be borrowed: people and service accounts create keys only for themselves in their own teams
/// and apps; only admins issue keys to someone else, and that is audited. A key's <c>/auth/me</c> shows the key and its
/// owner's id, never the owner's personal data.
/// </summary>
public sealed class KeyIdentityTests
{
    [Theory]
    [OnEachStorage]
    public async Task A_member_cannot_create_a_key_for_another_user_team_or_app_and_refusals_do_not_reveal_existence(string provider)
    {
        await using var host = await Gov.StartOnAsync(provider);
        var teamA = (await PostJsonAsync(host.Client, "api/v1/teams", new { name = Gov.Unique("team-a") })).GetProperty("id").GetString()!;
        var teamB = (await PostJsonAsync(host.Client, "api/v1/teams", new { name = Gov.Unique("team-b") })).GetProperty("id").GetString()!;
        var appB = (await PostJsonAsync(host.Client, "api/v1/apps", new { name = Gov.Unique("app-b"), team = teamB })).GetProperty("id").GetString()!;
        var appA = (await PostJsonAsync(host.Client, "api/v1/apps", new { name = Gov.Unique("app-a"), team = teamA })).GetProperty("id").GetString()!;
        var (memberId, memberName) = await Gov.CreateUserAsync(host, null, [teamA]);
        var (otherId, _) = await Gov.CreateUserAsync(host, null, [teamB]);
        using var member = Gov.WithToken(host, (await Gov.TokensAsync(host, memberName)).GetProperty("accessToken").GetString()!);

        // Another user, a made-up id, the master key's name: all refused alike, before anything is looked up.
        var userRefusal = await RefusedAsync(member, new { name = "borrowed", team = teamA, user = otherId });
        Assert.Equal(userRefusal, await RefusedAsync(member, new { name = "borrowed", team = teamA, user = "no-such-user" }));
        Assert.Equal(userRefusal, await RefusedAsync(member, new { name = "borrowed", team = teamA, user = "master-key" }));

        // Another team and a team that does not exist answer the same; so do another team's app and a missing app.
        var teamRefusal = await RefusedAsync(member, new { name = "borrowed", team = teamB });
        Assert.Equal(teamRefusal, await RefusedAsync(member, new { name = "borrowed", team = "no-such-team" }));
        var appRefusal = await RefusedAsync(member, new { name = "borrowed", app = appB });
        Assert.Equal(appRefusal, await RefusedAsync(member, new { name = "borrowed", app = "no-such-app" }));

        // Their own: no user (the key is theirs), or their own id, in their team or their team's app.
        var own = await CreateKeyAsync(host, new { name = "mine", team = teamA }, member);
        Assert.Equal(memberId, own.GetProperty("user").GetString());
        Assert.Equal(memberId, (await CreateKeyAsync(host, new { name = "mine-too", team = teamA, user = memberId }, member)).GetProperty("user").GetString());
        Assert.Equal(appA, (await CreateKeyAsync(host, new { name = "mine-app", app = appA }, member)).GetProperty("app").GetString());

        // Nothing was created for anyone else, and the refusals are in the audit trail.
        var keys = await GetJsonAsync(host.Client, "api/v1/keys");
        Assert.DoesNotContain(keys.GetProperty("data").EnumerateArray(), k => k.GetProperty("user").GetString() is { } u && u != memberId);
        var denied = await GetJsonAsync(host.Client, "api/v1/audit?action=key.create_denied&limit=100");
        var deniedEntries = denied.GetProperty("data").EnumerateArray().Where(e => e.GetProperty("action").GetString() == "key.create_denied").ToList();
        Assert.Equal(7, deniedEntries.Count);
        Assert.All(deniedEntries, e =>
        {
            Assert.Equal(memberId, e.GetProperty("actorId").GetString());
            Assert.Equal("failure", e.GetProperty("outcome").GetString());
        });
    }

    [Fact]
    public async Task A_service_account_and_an_api_key_cannot_mint_keys_for_others()
    {
        await using var host = await Gov.StartAsync();
        var team = (await PostJsonAsync(host.Client, "api/v1/teams", new { name = Gov.Unique("svc") })).GetProperty("id").GetString()!;
        var (otherId, _) = await Gov.CreateUserAsync(host, null, [team]);
        var account = await PostJsonAsync(host.Client, "api/v1/service-accounts", new { name = Gov.Unique("bot"), teams = new[] { new { id = team } } });
        var accountId = account.GetProperty("account").GetProperty("id").GetString()!;
        using var bot = Gov.WithToken(host, account.GetProperty("token").GetString()!);

        await RefusedAsync(bot, new { name = "borrowed", team, user = otherId });
        var own = await CreateKeyAsync(host, new { name = "bot-key", team }, bot);
        Assert.Equal(accountId, own.GetProperty("user").GetString());

        // A key, even one with a team, never creates keys.
        using var keyClient = ClientWithKey(host, own.GetProperty("key").GetString()!);
        await RefusedAsync(keyClient, new { name = "from-a-key", team });
    }

    [Theory]
    [OnEachStorage]
    public async Task An_admin_issues_a_key_to_an_existing_user_only_and_it_is_audited_against_that_user(string provider)
    {
        await using var host = await Gov.StartOnAsync(provider);
        var team = (await PostJsonAsync(host.Client, "api/v1/teams", new { name = Gov.Unique("issued") })).GetProperty("id").GetString()!;
        var (adminId, adminName) = await Gov.CreateUserAsync(host, Roles.Admin);
        var (userId, _) = await Gov.CreateUserAsync(host, null, [team]);
        using var admin = Gov.WithToken(host, (await Gov.TokensAsync(host, adminName)).GetProperty("accessToken").GetString()!);

        foreach (var bogus in new[] { "no-such-user", "master-key" })
        {
            using var response = await admin.PostAsJsonAsync("api/v1/keys", new { name = "bogus", team, user = bogus });
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Contains(bogus, problem.GetProperty("errors").GetProperty("user")[0].GetString(), StringComparison.Ordinal);
        }

        var key = await CreateKeyAsync(host, new { name = "for-them", team, user = userId }, admin);
        Assert.Equal(userId, key.GetProperty("user").GetString());
        var entries = (await GetJsonAsync(admin, $"api/v1/audit?targetId={userId}&limit=100")).GetProperty("data").EnumerateArray()
            .Where(static e => e.GetProperty("action").GetString() == "key.issued_for_user").ToList();
        var issued = Assert.Single(entries);
        Assert.Equal(adminId, issued.GetProperty("actorId").GetString());
        Assert.Equal(key.GetProperty("id").GetString(), issued.GetProperty("after").GetProperty("id").GetString());
    }

    [Fact]
    public async Task A_key_reports_itself_and_its_owner_and_never_exports_the_owners_personal_data()
    {
        await using var host = await Gov.StartAsync();
        var team = (await PostJsonAsync(host.Client, "api/v1/teams", new { name = Gov.Unique("me") })).GetProperty("id").GetString()!;
        var (userId, username) = await Gov.CreateUserAsync(host, null, [team]);
        using var person = Gov.WithToken(host, (await Gov.TokensAsync(host, username)).GetProperty("accessToken").GetString()!);
        var key = await CreateKeyAsync(host, new { name = "my-key", team }, person);
        using var keyClient = ClientWithKey(host, key.GetProperty("key").GetString()!);

        var me = await GetJsonAsync(keyClient, "api/v1/auth/me");
        Assert.Equal(key.GetProperty("id").GetString(), me.GetProperty("id").GetString());
        Assert.Equal("my-key", me.GetProperty("name").GetString());
        Assert.Equal("api_key", me.GetProperty("credential").GetString());
        Assert.Equal(userId, me.GetProperty("owner").GetString());
        Assert.DoesNotContain(username, me.GetRawText(), StringComparison.Ordinal);

        using var export = await keyClient.GetAsync("api/v1/auth/me/export");
        Assert.Equal(HttpStatusCode.Forbidden, export.StatusCode);
        var text = await export.Content.ReadAsStringAsync();
        Assert.Equal("application/problem+json", export.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain(username, text, StringComparison.Ordinal);

        // The person still exports their own data with their login.
        var own = await GetJsonAsync(person, "api/v1/auth/me/export");
        Assert.Equal(username, own.GetProperty("user").GetProperty("username").GetString());
    }

    private static async Task<string> RefusedAsync(HttpClient client, object body)
    {
        using var response = await client.PostAsJsonAsync("api/v1/keys", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"POST /api/v1/keys answered {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(text).RootElement.GetProperty("detail").GetString()!;
    }
}
