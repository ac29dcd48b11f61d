namespace LlmMarketplace.Governance.Tests.PersonalData;

/// <summary>Export everything stored about a person; erase them without breaking the audit chain.</summary>
public sealed class PersonalDataTests
{
    [Theory]
    [OnEachStorage]
    public async Task Export_contains_the_account_sessions_and_audit_entries_and_erasure_keeps_the_chain_intact(string provider)
    {
        await using var host = await Gov.StartOnAsync(provider);
        var (id, username) = await Gov.CreateUserAsync(host, Roles.Viewer, ["team-p"]);
        await Gov.TokensAsync(host, username);
        (await Gov.LoginAsync(host, username, "wrong password here")).Dispose();

        var export = await host.Client.GetFromJsonAsync<JsonElement>($"api/v1/users/{id}/export");
        Assert.Equal(username, export.GetProperty("user").GetProperty("username").GetString());
        Assert.Equal(username + "@example.test", export.GetProperty("user").GetProperty("email").GetString());
        Assert.Equal(1, export.GetProperty("sessions").GetArrayLength());
        var actions = export.GetProperty("auditEntries").EnumerateArray().Select(static e => e.GetProperty("action").GetString()).ToList();
        Assert.Contains("user.created", actions);
        Assert.Contains("auth.login", actions);
        Assert.DoesNotContain("passwordHash", export.GetRawText(), StringComparison.OrdinalIgnoreCase);

        using var admin = await Gov.ClientForRoleAsync(host, Roles.Admin);
        Assert.Equal(HttpStatusCode.Forbidden, (await admin.PostAsync($"api/v1/users/{id}/erase", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await host.Client.PostAsync($"api/v1/users/{id}/erase", null)).StatusCode);

        var erased = await host.Client.GetFromJsonAsync<JsonElement>($"api/v1/users/{id}/export");
        Assert.Equal("erased-" + id, erased.GetProperty("user").GetProperty("username").GetString());
        Assert.Equal(JsonValueKind.Null, erased.GetProperty("user").GetProperty("email").ValueKind);
        Assert.Equal(JsonValueKind.Null, erased.GetProperty("user").GetProperty("displayName").ValueKind);
        Assert.All(erased.GetProperty("sessions").EnumerateArray(), static s => Assert.Equal(JsonValueKind.Null, s.GetProperty("ip").ValueKind));
        using (var login = await Gov.LoginAsync(host, username, Gov.Password)) Assert.Equal(HttpStatusCode.Unauthorized, login.StatusCode);

        // Nothing in the whole trail names the person, and the chain still verifies.
        var all = await host.Client.GetStringAsync("api/v1/audit?format=jsonl");
        Assert.DoesNotContain(username, all, StringComparison.Ordinal);
        var verify = await host.Client.GetFromJsonAsync<JsonElement>("api/v1/audit/verify");
        Assert.True(verify.GetProperty("intact").GetBoolean());
    }

    [Fact]
    public async Task A_user_exports_their_own_data()
    {
        await using var host = await Gov.StartAsync();
        var (id, username) = await Gov.CreateUserAsync(host, null);
        using var client = Gov.WithToken(host, (await Gov.TokensAsync(host, username)).GetProperty("accessToken").GetString()!);
        var export = await client.GetFromJsonAsync<JsonElement>("api/v1/auth/me/export");
        Assert.Equal(id, export.GetProperty("user").GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync($"api/v1/users/{id}/export")).StatusCode);
    }
}
