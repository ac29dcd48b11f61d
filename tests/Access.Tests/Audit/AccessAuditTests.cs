using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.Governance.Tests.Infrastructure;

namespace LlmMarketplace.Access.Tests.Audit;

/// <summary>Access state changes reach the governance audit trail with who did them, from where, and never a key's secret.</summary>
public sealed class AccessAuditTests
{
    private static async Task<JsonElement[]> EntriesForAsync(HttpClient client, string targetId)
    {
        var page = await GetJsonAsync(client, $"api/v1/audit?targetId={Uri.EscapeDataString(targetId)}&order=asc");
        return page.GetProperty("data").EnumerateArray().ToArray();
    }

    private static string[] Actions(JsonElement[] entries) => entries.Select(static e => e.GetProperty("action").GetString()!).ToArray();

    [Theory]
    [OnEachStorage]
    public async Task Creating_and_revoking_a_key_are_audited_with_the_actor_and_the_chain_stays_intact(string provider)
    {
        await using var host = await Gov.StartOnAsync(provider);
        var (adminId, adminName) = await Gov.CreateUserAsync(host, Roles.Admin);
        var tokens = await Gov.TokensAsync(host, adminName);
        using var admin = Gov.WithToken(host, tokens.GetProperty("accessToken").GetString()!);

        var team = await PostJsonAsync(admin, "api/v1/teams", new { name = Gov.Unique("audited") });
        var teamId = team.GetProperty("id").GetString()!;
        var key = await CreateKeyAsync(host, new { name = "audited-key", team = teamId }, admin);
        var keyId = key.GetProperty("id").GetString()!;
        var secret = key.GetProperty("key").GetString()!;
        using (var revoke = await admin.DeleteAsync($"api/v1/keys/{keyId}"))
        {
            Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        }

        var entries = await EntriesForAsync(admin, keyId);
        Assert.Equal(["key.created", "key.revoked"], Actions(entries));
        foreach (var entry in entries)
        {
            Assert.Equal(adminId, entry.GetProperty("actorId").GetString());
            Assert.Equal("api_key", entry.GetProperty("targetType").GetString());
            Assert.Equal("success", entry.GetProperty("outcome").GetString());
            Assert.False(string.IsNullOrEmpty(entry.GetProperty("ip").GetString()));
        }
        var created = entries[0];
        Assert.Equal(JsonValueKind.Null, created.GetProperty("before").ValueKind);
        Assert.Equal(teamId, created.GetProperty("after").GetProperty("team").GetString());
        var revoked = entries[1];
        Assert.Equal(JsonValueKind.Null, revoked.GetProperty("before").GetProperty("revokedAt").ValueKind);
        Assert.NotEqual(JsonValueKind.Null, revoked.GetProperty("after").GetProperty("revokedAt").ValueKind);

        var teamEntries = await EntriesForAsync(admin, teamId);
        Assert.Equal("team.created", Assert.Single(teamEntries).GetProperty("action").GetString());
        Assert.Equal(adminId, teamEntries[0].GetProperty("actorId").GetString());

        // The secret was shown once to the caller and is nowhere in the trail.
        using var export = await admin.GetAsync("api/v1/audit?format=jsonl&limit=10000");
        Assert.Equal(HttpStatusCode.OK, export.StatusCode);
        var jsonl = await export.Content.ReadAsStringAsync();
        Assert.Contains(keyId, jsonl, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, jsonl, StringComparison.Ordinal);
        Assert.DoesNotContain(secret[12..], jsonl, StringComparison.Ordinal);

        var verify = await GetJsonAsync(admin, "api/v1/audit/verify");
        Assert.True(verify.GetProperty("intact").GetBoolean(), verify.ToString());
    }

    [Fact]
    public async Task Rotation_plans_subscriptions_apps_and_budgets_are_audited_without_secrets()
    {
        await using var host = await Gov.StartAsync("""
            Providers:
              - Name: up
                Type: openai
                BaseUrl: http://127.0.0.1:9/v1
            Models:
              - Name: audited-model
                Deployments: [{ Provider: up, Model: m }]
            """);
        var client = host.Client;
        var team = await PostJsonAsync(client, "api/v1/teams", new { name = Gov.Unique("t") });
        var app = await PostJsonAsync(client, "api/v1/apps", new { name = "app", team = team.GetProperty("id").GetString() });
        var appId = app.GetProperty("id").GetString()!;
        var plan = await PostJsonAsync(client, "api/v1/plans", new { name = "basic", model = "audited-model", requiresApproval = true });
        var planId = plan.GetProperty("id").GetString()!;
        var sub = await PostJsonAsync(client, "api/v1/subscriptions", new { app = appId, plan = planId });
        var subId = sub.GetProperty("id").GetString()!;
        await PostJsonAsync(client, $"api/v1/subscriptions/{subId}/approve", new { }, HttpStatusCode.OK);
        var budget = await PostJsonAsync(client, "api/v1/budgets", new { scope = "app", scopeId = appId, limitUsd = 5m, period = "daily" });
        var budgetId = budget.GetProperty("id").GetString()!;
        using (var deleted = await client.DeleteAsync($"api/v1/budgets/{budgetId}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }
        var key = await CreateKeyAsync(host, new { name = "rotating", app = appId });
        var keyId = key.GetProperty("id").GetString()!;
        var rotated = await PostJsonAsync(client, $"api/v1/keys/{keyId}/rotate", new { overlapSeconds = 60 }, HttpStatusCode.OK);
        var newSecret = rotated.GetProperty("key").GetString()!;

        Assert.Equal("app.created", Assert.Single(await EntriesForAsync(client, appId)).GetProperty("action").GetString());
        Assert.Equal("plan.created", Assert.Single(await EntriesForAsync(client, planId)).GetProperty("action").GetString());
        var subEntries = await EntriesForAsync(client, subId);
        Assert.Equal(["subscription.created", "subscription.approve"], Actions(subEntries));
        Assert.Equal("submitted", subEntries[1].GetProperty("before").GetProperty("status").GetString());
        Assert.Equal("active", subEntries[1].GetProperty("after").GetProperty("status").GetString());
        var budgetEntries = await EntriesForAsync(client, budgetId);
        Assert.Equal(["budget.created", "budget.deleted"], Actions(budgetEntries));
        Assert.Equal(5m, budgetEntries[1].GetProperty("before").GetProperty("limitUsd").GetDecimal());
        var keyEntries = await EntriesForAsync(client, keyId);
        Assert.Equal(["key.created", "key.rotated"], Actions(keyEntries));
        Assert.All(keyEntries, static e => Assert.Equal("master-key", e.GetProperty("actorId").GetString()));

        using var export = await client.GetAsync("api/v1/audit?format=jsonl&limit=10000");
        var jsonl = await export.Content.ReadAsStringAsync();
        Assert.DoesNotContain(key.GetProperty("key").GetString()!, jsonl, StringComparison.Ordinal);
        Assert.DoesNotContain(newSecret, jsonl, StringComparison.Ordinal);
        Assert.True((await GetJsonAsync(client, "api/v1/audit/verify")).GetProperty("intact").GetBoolean());
    }
}
