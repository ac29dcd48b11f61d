namespace LlmMarketplace.Governance.Tests.Policies;

/// <summary>
/// A replica that never hears of another replica's policy change (no Redis here, so no change message at all) catches
/// up from the database within <c>Governance:RefreshSeconds</c>.
/// </summary>
public sealed class PolicyCatchUpTests
{
    [Fact]
    public async Task A_replica_that_missed_the_change_message_applies_a_new_policy_within_the_refresh_interval()
    {
        await using var upstream = await FakeUpstream.StartAsync(static (ctx, _) => FakeUpstream.Json(ctx, Configs.Completion));
        await using var storage = await TestStorage.CreateAsync("postgres");
        var overrides = storage.Overrides;
        overrides["Security:EncryptionKey"] = GatewayHost.NewRootKey();
        overrides["Governance:RefreshSeconds"] = "1";
        var config = Configs.OpenAI(upstream.BaseUrl + "/v1");

        await using var first = await Gov.StartAsync(config, overrides: overrides);
        await using var second = await Gov.StartAsync(config, overrides: overrides);
        using (var before = await ChatAsync(second.Client))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        using (var created = await first.Client.PostAsync("api/v1/policies", new StringContent("""
            name: no-mini
            scope: global
            reason: retired on this platform
            rules:
              models:
                deny: ["gpt-4o-mini"]
            """, Encoding.UTF8, "application/yaml")))
        {
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        }

        // The replica that made the change applies it at once; the other one at its next catch-up.
        using (var here = await ChatAsync(first.Client))
        {
            Assert.Equal(HttpStatusCode.Forbidden, here.StatusCode);
        }

        await Wait.UntilAsync(async () =>
        {
            using var response = await ChatAsync(second.Client);
            return response.StatusCode == HttpStatusCode.Forbidden;
        }, TimeSpan.FromSeconds(10), "the other replica to apply the policy");
        using var refused = await ChatAsync(second.Client);
        var error = (await Gov.JsonAsync(refused)).GetProperty("error");
        Assert.Equal("model_not_allowed", error.GetProperty("code").GetString());
        Assert.Contains("retired on this platform", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    private static Task<HttpResponseMessage> ChatAsync(HttpClient client) =>
        client.PostAsync("v1/chat/completions", new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));
}
