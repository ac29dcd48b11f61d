namespace LlmMarketplace.Governance.Tests.Policies;

/// <summary>A policy's spending cap (<c>rules.budget</c>) is enforced on the gateway path over the spend of the policy's scope.</summary>
public sealed class PolicyBudgetTests : IAsyncLifetime
{
    private FakeUpstream _upstream = null!;

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync(static (ctx, _) => FakeUpstream.Json(ctx, Configs.Completion));

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    /// <summary>At <paramref name="perMTok"/> USD per 1M tokens, in and out, a call costs 6 × perMTok / 1M.</summary>
    private string Config(decimal perMTok) => $"""
        Providers:
          - Name: up
            Type: openai
            BaseUrl: {_upstream.BaseUrl}/v1
        Models:
          - Name: priced
            Deployments:
              - Provider: up
                Model: priced
                InputPerMTok: {perMTok}
                OutputPerMTok: {perMTok}
        """;

    private static Task<HttpResponseMessage> ChatAsync(HttpClient client) =>
        client.PostAsync("v1/chat/completions", new StringContent("""{"model":"priced","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));

    private static async Task CreatePolicyAsync(GatewayHost host, string yaml)
    {
        using var response = await host.Client.PostAsync("api/v1/policies", new StringContent(yaml, Encoding.UTF8, "application/yaml"));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_team_cap_refuses_the_teams_calls_once_spent_and_leaves_other_teams_alone()
    {
        await using var host = await Gov.StartAsync(Config(100_000m)); // $0.60 a call
        await CreatePolicyAsync(host, "name: team-b-cap\nscope: team\nteam: team-b\nreason: finance rule 12\nrules:\n  budget: {maxUsd: 1.0, period: monthly}\n");
        using var member = await Gov.ClientForRoleAsync(host, Roles.Viewer, ["team-b"]);
        using var other = await Gov.ClientForRoleAsync(host, Roles.Viewer, ["team-c"]);

        using (var first = await ChatAsync(member)) Assert.Equal(HttpStatusCode.OK, first.StatusCode);   // $0.60 spent
        using (var second = await ChatAsync(member)) Assert.Equal(HttpStatusCode.OK, second.StatusCode); // $1.20: over, booked
        using (var refused = await ChatAsync(member))
        {
            Assert.Equal((HttpStatusCode)429, refused.StatusCode);
            Assert.Equal("false", refused.Headers.GetValues("x-should-retry").Single());
            var error = (await Gov.JsonAsync(refused)).GetProperty("error");
            Assert.Equal("insufficient_quota", error.GetProperty("code").GetString());
            Assert.Equal("insufficient_quota", error.GetProperty("type").GetString());
            var message = error.GetProperty("message").GetString()!;
            Assert.Contains("monthly spending cap of policy 'team-b-cap': finance rule 12", message, StringComparison.Ordinal);
        }
        Assert.Equal(2, _upstream.Count);

        for (var i = 0; i < 3; i++)
        {
            using var fine = await ChatAsync(other);
            Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
        }
    }

    [Fact]
    public async Task A_cap_created_later_counts_the_spend_recorded_before_it()
    {
        await using var host = await Gov.StartAsync(Config(10_000m)); // $0.06 a call
        for (var i = 0; i < 20; i++) // $1.20 spent before the policy exists
        {
            using var ok = await ChatAsync(host.Client);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }
        await CreatePolicyAsync(host, "name: lifetime-cap\nscope: global\nrules:\n  budget: {maxUsd: 1.0, period: total}\n");

        // The spend recorded before the policy counts: the very next call is refused (counting from the policy's
        // creation only, 17 more calls would pass).
        using var refused = await ChatAsync(host.Client);
        Assert.Equal((HttpStatusCode)429, refused.StatusCode);
        var message = (await Gov.JsonAsync(refused)).GetProperty("error").GetProperty("message").GetString();
        Assert.Contains("total spending cap of policy 'lifetime-cap' is used up.", message, StringComparison.Ordinal);
        Assert.Equal(20, _upstream.Count);
    }
}
