using Microsoft.Extensions.Time.Testing;

namespace LlmMarketplace.Governance.Tests.Identity;

/// <summary>
/// Every way of signing in leaves an audit entry, success and failure: the master key and refused bearer credentials
/// (once per method, outcome and address per interval, since they come with every request), and passwords.
/// </summary>
public sealed class SignInAuditTests
{
    private static async Task<List<JsonElement>> LoginsAsync(TestKit.GatewayHost host, string outcome, string method) =>
        [.. (await host.Client.GetFromJsonAsync<JsonElement>($"api/v1/audit?action=auth.login&outcome={outcome}&limit=1000")).GetProperty("data").EnumerateArray()
            .Where(e => e.GetProperty("after").TryGetProperty("method", out var m) && m.GetString() == method)];

    private static async Task<HttpStatusCode> CallAsync(TestKit.GatewayHost host, string credential)
    {
        using var client = new HttpClient { BaseAddress = host.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        using var response = await client.GetAsync("api/v1/teams");
        return response.StatusCode;
    }

    [Theory]
    [OnEachStorage]
    public async Task Master_key_and_refused_credentials_are_audited_once_per_interval(string provider)
    {
        var time = Gov.Clock();
        await using var host = await Gov.StartOnAsync(provider, time: time, overrides: new Dictionary<string, string?> { ["Governance:SignInAuditInterval"] = "00:15:00" });

        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.OK, await CallAsync(host, host.MasterKey));
        var master = Assert.Single(await LoginsAsync(host, "success", "master_key"));
        Assert.Equal("master-key", master.GetProperty("actorId").GetString());
        Assert.Equal(MarketplaceClaims.MasterKey, master.GetProperty("actorKind").GetString());
        Assert.Equal("127.0.0.1", master.GetProperty("ip").GetString());

        // A wrong master key and an unknown API key: refused, each audited once however often it is tried.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await CallAsync(host, "not-the-master-key-" + i));
            Assert.Equal(HttpStatusCode.Unauthorized, await CallAsync(host, "llmm-not-a-key-" + i));
        }
        var wrongMaster = Assert.Single(await LoginsAsync(host, "failure", "master_key"));
        Assert.Equal("unknown_credential", wrongMaster.GetProperty("after").GetProperty("reason").GetString());
        Assert.Equal("anonymous", wrongMaster.GetProperty("actorId").GetString());
        Assert.Single(await LoginsAsync(host, "failure", "api_key"));
        // The secret tried is never recorded.
        var trail = await host.Client.GetStringAsync("api/v1/audit?format=jsonl");
        Assert.DoesNotContain("not-the-master-key", trail, StringComparison.Ordinal);
        Assert.DoesNotContain(host.MasterKey, trail, StringComparison.Ordinal);

        // After the interval, the next use is recorded again.
        time.Advance(TimeSpan.FromMinutes(16));
        Assert.Equal(HttpStatusCode.OK, await CallAsync(host, host.MasterKey));
        Assert.Equal(HttpStatusCode.Unauthorized, await CallAsync(host, "not-the-master-key-again"));
        Assert.Equal(2, (await LoginsAsync(host, "success", "master_key")).Count);
        Assert.Equal(2, (await LoginsAsync(host, "failure", "master_key")).Count);
    }

    [Fact]
    public async Task A_sign_in_the_audit_trail_cannot_take_does_not_fail_its_request_and_a_later_one_records_it()
    {
        await using var host = await Gov.StartOnAsync("sqlite");
        using var created = await host.Client.PostAsJsonAsync("api/v1/keys", new { name = Gov.Unique("locked") });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var key = await Gov.JsonAsync(created);
        var (keyId, secret) = (key.GetProperty("id").GetString()!, key.GetProperty("key").GetString()!);

        // Another writer holds the database past the lock wait while the key signs in for the first time.
        var file = host.Service<LlmMarketplace.BuildingBlocks.Storage.Database>().EmbeddedFile!;
        await using (var other = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file};Pooling=False"))
        {
            await other.OpenAsync();
            await using var hold = other.CreateCommand();
            hold.CommandText = "BEGIN IMMEDIATE; CREATE TABLE held_lock (x INTEGER);";
            await hold.ExecuteNonQueryAsync();
            Assert.Equal(HttpStatusCode.OK, await CallAsync(host, secret));
            await using var rollback = other.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            await rollback.ExecuteNonQueryAsync();
        }
        Assert.DoesNotContain(await LoginsAsync(host, "success", "api_key"), e => e.GetProperty("actorId").GetString() == keyId);

        // The next request with the key records its sign-in.
        Assert.Equal(HttpStatusCode.OK, await CallAsync(host, secret));
        Assert.Single(await LoginsAsync(host, "success", "api_key"), e => e.GetProperty("actorId").GetString() == keyId);
    }

    [Theory]
    [OnEachStorage]
    public async Task API_keys_and_service_account_tokens_are_audited_as_their_own_actor_once_per_interval(string provider)
    {
        var time = Gov.Clock();
        await using var host = await Gov.StartOnAsync(provider, time: time, overrides: new Dictionary<string, string?> { ["Governance:SignInAuditInterval"] = "00:15:00" });
        var keys = new List<(string Id, string Secret)>();
        for (var i = 0; i < 2; i++)
        {
            using var created = await host.Client.PostAsJsonAsync("api/v1/keys", new { name = Gov.Unique("signin") });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var key = await Gov.JsonAsync(created);
            keys.Add((key.GetProperty("id").GetString()!, key.GetProperty("key").GetString()!));
        }
        using var account = await host.Client.PostAsJsonAsync("api/v1/service-accounts", new { name = Gov.Unique("ci") });
        Assert.Equal(HttpStatusCode.Created, account.StatusCode);
        var sa = await Gov.JsonAsync(account);
        var token = sa.GetProperty("token").GetString()!;
        var accountId = sa.GetProperty("account").GetProperty("id").GetString()!;

        // Three calls each: one entry per key (each is its own actor) and one for the token.
        for (var i = 0; i < 3; i++)
        {
            foreach (var (_, secret) in keys) Assert.Equal(HttpStatusCode.OK, await CallAsync(host, secret));
            Assert.Equal(HttpStatusCode.OK, await CallAsync(host, token));
        }
        var byKey = await LoginsAsync(host, "success", "api_key");
        Assert.Equal(keys.Select(static k => k.Id).Order(StringComparer.Ordinal), byKey.Select(static e => e.GetProperty("actorId").GetString()!).Order(StringComparer.Ordinal));
        Assert.All(byKey, e => Assert.Equal("127.0.0.1", e.GetProperty("ip").GetString()));
        var byToken = Assert.Single(await LoginsAsync(host, "success", "service_token"));
        Assert.NotEqual("anonymous", byToken.GetProperty("actorId").GetString());
        Assert.Contains(accountId, byToken.GetRawText(), StringComparison.Ordinal);
        // Neither secret is ever recorded.
        var trail = await host.Client.GetStringAsync("api/v1/audit?format=jsonl");
        Assert.All(keys, k => Assert.DoesNotContain(k.Secret, trail, StringComparison.Ordinal));
        Assert.DoesNotContain(token, trail, StringComparison.Ordinal);

        // After the interval, the next use is recorded again.
        time.Advance(TimeSpan.FromMinutes(16));
        Assert.Equal(HttpStatusCode.OK, await CallAsync(host, keys[0].Secret));
        Assert.Equal(3, (await LoginsAsync(host, "success", "api_key")).Count);
    }

    [Theory]
    [OnEachStorage]
    public async Task Password_sign_ins_are_audited_on_success_and_failure(string provider)
    {
        await using var host = await Gov.StartOnAsync(provider);
        var (id, username) = await Gov.CreateUserAsync(host, Roles.Viewer);
        using (var wrong = await Gov.LoginAsync(host, username, "not the password")) Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        using (var right = await Gov.LoginAsync(host, username, Gov.Password)) Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        var entries = (await host.Client.GetFromJsonAsync<JsonElement>($"api/v1/audit?action=auth.login&targetId={id}")).GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["success", "failure"], entries.Select(static e => e.GetProperty("outcome").GetString()));
        Assert.All(entries, e => Assert.Equal(id, e.GetProperty("actorId").GetString()));
    }
}
