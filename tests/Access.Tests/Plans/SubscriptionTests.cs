namespace LlmMarketplace.Access.Tests.Plans;

/// <summary>Plans on a model, subscriptions through their states, and the data plane admitting only under an active one.</summary>
public class SubscriptionTests() : AccessHostTests(new Usage(10, 5))
{
    [Fact]
    public async Task Subscribing_an_app_is_authorized_before_its_existing_subscriptions_are_revealed()
    {
        var other = await PostJsonAsync(Host.Client, "api/v1/teams", new { name = "other-" + Guid.NewGuid().ToString("N") });
        var otherApp = (await PostJsonAsync(Host.Client, "api/v1/apps", new { name = "theirs", team = other.GetProperty("id").GetString() })).GetProperty("id").GetString()!;
        var taken = (await PostJsonAsync(Host.Client, "api/v1/plans", new { name = "taken-" + Guid.NewGuid().ToString("N"), model = "gpt-4o-mini" })).GetProperty("id").GetString()!;
        var free = (await PostJsonAsync(Host.Client, "api/v1/plans", new { name = "free-" + Guid.NewGuid().ToString("N"), model = "gpt-4o-mini" })).GetProperty("id").GetString()!;
        await PostJsonAsync(Host.Client, "api/v1/subscriptions", new { app = otherApp, plan = taken });
        var subscriptionId = (await GetJsonAsync(Host.Client, $"api/v1/subscriptions?app={otherApp}")).GetProperty("data")[0].GetProperty("id").GetString()!;

        // A caller of another team: the app is unknown to it, whether or not it already has the plan.
        var mine = await PostJsonAsync(Host.Client, "api/v1/teams", new { name = "mine-" + Guid.NewGuid().ToString("N") });
        var outsider = await CreateKeyAsync(Host, new { name = "outsider", team = mine.GetProperty("id").GetString() });
        using var outsiderClient = ClientWithKey(Host, outsider.GetProperty("key").GetString()!);
        foreach (var plan in new[] { taken, free })
        {
            using var response = await outsiderClient.PostAsJsonAsync("api/v1/subscriptions", new { app = otherApp, plan });
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
            Assert.Equal($"Unknown app '{otherApp}'.", errors.GetProperty("app")[0].GetString());
            Assert.False(errors.TryGetProperty("plan", out _));
        }
        using (var cancel = await outsiderClient.PostAsync($"api/v1/subscriptions/{subscriptionId}/cancel", null))
        {
            Assert.Equal(HttpStatusCode.NotFound, cancel.StatusCode);
        }
        using (var missing = await outsiderClient.PostAsync("api/v1/subscriptions/sub_missing/cancel", null))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        // A key of the app's own team sees the app but may not subscribe it: 403 whatever the plan.
        var insider = await CreateKeyAsync(Host, new { name = "insider", team = other.GetProperty("id").GetString() });
        using var insiderClient = ClientWithKey(Host, insider.GetProperty("key").GetString()!);
        foreach (var plan in new[] { taken, free })
        {
            using var response = await insiderClient.PostAsJsonAsync("api/v1/subscriptions", new { app = otherApp, plan });
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }
    }

    [Fact]
    public async Task A_model_with_plans_admits_app_keys_only_under_an_active_subscription()
    {
        var team = await PostJsonAsync(Host.Client, "api/v1/teams", new { name = "subs-" + Guid.NewGuid().ToString("N") });
        var app = await PostJsonAsync(Host.Client, "api/v1/apps", new { name = "chatbot", team = team.GetProperty("id").GetString() });
        var appId = app.GetProperty("id").GetString()!;
        var plan = await PostJsonAsync(Host.Client, "api/v1/plans", new { name = "starter", model = "gpt-4o-mini", rpm = 2, requiresApproval = true, priceUsd = 9.0 });
        var planId = plan.GetProperty("id").GetString()!;

        var appKey = await CreateKeyAsync(Host, new { name = "app-key", app = appId, direct = false });
        Assert.False(appKey.GetProperty("direct").GetBoolean());
        using var client = ClientWithKey(Host, appKey.GetProperty("key").GetString()!);
        await AssertRefusedAsync(client);
        using (var free = await ChatAsync(client, "free-model")) Assert.Equal(HttpStatusCode.OK, free.StatusCode);

        // A key an admin made without narrowing reaches every model directly.
        var direct = await CreateKeyAsync(Host, new { name = "admin-key" });
        using (var directClient = ClientWithKey(Host, direct.GetProperty("key").GetString()!))
        using (var ok = await ChatAsync(directClient)) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        var sub = await PostJsonAsync(Host.Client, "api/v1/subscriptions", new { app = appId, plan = planId });
        var subId = sub.GetProperty("id").GetString()!;
        Assert.Equal("submitted", sub.GetProperty("status").GetString());
        await AssertRefusedAsync(client);

        var approved = await PostJsonAsync(Host.Client, $"api/v1/subscriptions/{subId}/approve", new { }, HttpStatusCode.OK);
        Assert.Equal("active", approved.GetProperty("status").GetString());
        using (var first = await ChatAsync(client)) Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        using (var second = await ChatAsync(client)) Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        using (var third = await ChatAsync(client))
        {
            // The plan's 2 requests per minute.
            Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
            Assert.Equal("rate_limit_exceeded", (await ErrorAsync(third)).GetProperty("code").GetString());
        }

        var suspended = await PostJsonAsync(Host.Client, $"api/v1/subscriptions/{subId}/suspend", new { }, HttpStatusCode.OK);
        Assert.Equal("suspended", suspended.GetProperty("status").GetString());
        await AssertRefusedAsync(client);
        var cancelled = await PostJsonAsync(Host.Client, $"api/v1/subscriptions/{subId}/cancel", new { }, HttpStatusCode.OK);
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());

        using var invalid = await Host.Client.PostAsJsonAsync($"api/v1/subscriptions/{subId}/approve", new { });
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);

        var usage = await UsageOfKeyAsync(Host, appKey.GetProperty("id").GetString()!);
        Assert.Equal(appId, usage.First(u => u.GetProperty("status").GetInt32() == 200 && u.GetProperty("model").GetString() == "gpt-4o-mini").GetProperty("appId").GetString());
    }

    [Fact]
    public async Task A_plan_without_approval_is_active_at_once_and_its_token_quota_is_enforced()
    {
        var team = await PostJsonAsync(Host.Client, "api/v1/teams", new { name = "quota-" + Guid.NewGuid().ToString("N") });
        var app = await PostJsonAsync(Host.Client, "api/v1/apps", new { name = "batch", team = team.GetProperty("id").GetString() });
        // The upstream bills 15 tokens a call: a quota of 30 admits two calls.
        var plan = await PostJsonAsync(Host.Client, "api/v1/plans", new { name = "tiny-" + Guid.NewGuid().ToString("N"), model = "gpt-4o-mini", tokenQuota = 30, quotaPeriod = "monthly" });
        var sub = await PostJsonAsync(Host.Client, "api/v1/subscriptions", new { app = app.GetProperty("id").GetString(), plan = plan.GetProperty("id").GetString() });
        Assert.Equal("active", sub.GetProperty("status").GetString());
        var key = await CreateKeyAsync(Host, new { name = "quota-key", app = app.GetProperty("id").GetString(), direct = false });
        using var client = ClientWithKey(Host, key.GetProperty("key").GetString()!);
        using (var a = await ChatAsync(client)) Assert.Equal(HttpStatusCode.OK, a.StatusCode);
        using (var b = await ChatAsync(client)) Assert.Equal(HttpStatusCode.OK, b.StatusCode);
        using var c = await ChatAsync(client);
        Assert.Equal(HttpStatusCode.TooManyRequests, c.StatusCode);
        Assert.Equal("insufficient_quota", (await ErrorAsync(c)).GetProperty("code").GetString());
        Assert.Equal("false", Header(c, "x-should-retry"));
    }

    [Fact]
    public async Task A_subscription_past_its_expiry_is_expired_and_no_longer_admits()
    {
        var team = await PostJsonAsync(Host.Client, "api/v1/teams", new { name = "expiry-" + Guid.NewGuid().ToString("N") });
        var app = await PostJsonAsync(Host.Client, "api/v1/apps", new { name = "trial", team = team.GetProperty("id").GetString() });
        var plan = await PostJsonAsync(Host.Client, "api/v1/plans", new { name = "trial-" + Guid.NewGuid().ToString("N"), model = "gpt-4o-mini" });
        var expiresAt = DateTimeOffset.UtcNow.AddSeconds(2);
        var sub = await PostJsonAsync(Host.Client, "api/v1/subscriptions", new { app = app.GetProperty("id").GetString(), plan = plan.GetProperty("id").GetString(), expiresAt });
        var key = await CreateKeyAsync(Host, new { name = "trial-key", app = app.GetProperty("id").GetString(), direct = false });
        using var client = ClientWithKey(Host, key.GetProperty("key").GetString()!);
        using (var ok = await ChatAsync(client)) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        await Wait.UntilAsync(() => DateTimeOffset.UtcNow > expiresAt, TimeSpan.FromSeconds(10), "the subscription's expiry");
        await AssertRefusedAsync(client);
        var listed = await GetJsonAsync(Host.Client, $"api/v1/subscriptions?app={app.GetProperty("id").GetString()}");
        Assert.Equal("expired", listed.GetProperty("data")[0].GetProperty("status").GetString());
        Assert.Equal(sub.GetProperty("id").GetString(), listed.GetProperty("data")[0].GetProperty("id").GetString());
    }

    [Fact]
    public async Task Plan_validation_lists_every_error()
    {
        using var response = await Host.Client.PostAsJsonAsync("api/v1/plans", new { model = "no-such-model", rpm = -1, tokenQuota = 0, quotaPeriod = "yearly", priceUsd = -3 });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
        foreach (var field in new[] { "name", "model", "rpm", "tokenQuota", "quotaPeriod", "priceUsd" })
        {
            Assert.True(errors.TryGetProperty(field, out _), $"missing error for {field}: {errors}");
        }
    }

    private static async Task AssertRefusedAsync(HttpClient client)
    {
        using var refused = await ChatAsync(client);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        var error = await ErrorAsync(refused);
        Assert.Equal("permission_error", error.GetProperty("type").GetString());
        Assert.Equal("subscription_required", error.GetProperty("code").GetString());
    }
}

/// <summary>The same tests on PostgreSQL.</summary>
public sealed class SubscriptionTestsOnPostgres : SubscriptionTests
{
    protected override string Provider => "postgres";
}
