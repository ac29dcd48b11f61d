namespace LlmMarketplace.Access.Tests.Limits;

/// <summary>Limits shared by several keys (team, app) and by the whole gateway (deployment).</summary>
public sealed class SharedLimitTests
{
    [Fact]
    public async Task A_team_limit_is_shared_by_every_key_of_the_team_and_an_app_limit_by_the_apps_keys()
    {
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl + "/v1"));
        var team = await PostJsonAsync(host.Client, "api/v1/teams", new { name = "shared-" + Guid.NewGuid().ToString("N"), rpm = 3 });
        var teamId = team.GetProperty("id").GetString()!;
        var app = await PostJsonAsync(host.Client, "api/v1/apps", new { name = "tool", team = teamId, rpm = 2 });
        var appKey1 = await CreateKeyAsync(host, new { name = "k1", app = app.GetProperty("id").GetString() });
        var appKey2 = await CreateKeyAsync(host, new { name = "k2", app = app.GetProperty("id").GetString() });
        var teamKey = await CreateKeyAsync(host, new { name = "k3", team = teamId });
        using var c1 = ClientWithKey(host, appKey1.GetProperty("key").GetString()!);
        using var c2 = ClientWithKey(host, appKey2.GetProperty("key").GetString()!);
        using var c3 = ClientWithKey(host, teamKey.GetProperty("key").GetString()!);

        using (var r = await ChatAsync(c1)) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using (var r = await ChatAsync(c2)) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using (var r = await ChatAsync(c1)) Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode); // the app's 2 per minute
        using (var r = await ChatAsync(c3)) Assert.Equal(HttpStatusCode.OK, r.StatusCode);              // the team's third
        using (var r = await ChatAsync(c3))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode);                                   // the team's 3 per minute
            Assert.Contains("team", (await ErrorAsync(r)).GetProperty("message").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_deployment_limit_holds_for_every_caller_of_the_gateway()
    {
        await using var upstream = await OpenAIUpstreamAsync(new Usage(10, 5));
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl + "/v1"), new Dictionary<string, string?>
        {
            ["Access:DeploymentLimits:upstream/gpt-4:Rpm"] = "2",
        });
        var a = await CreateKeyAsync(host, new { name = "a" });
        var b = await CreateKeyAsync(host, new { name = "b" });
        using var ca = ClientWithKey(host, a.GetProperty("key").GetString()!);
        using var cb = ClientWithKey(host, b.GetProperty("key").GetString()!);
        using (var r = await ChatAsync(ca)) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using (var r = await ChatAsync(cb)) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using var refused = await ChatAsync(ca);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("rate_limit_exceeded", (await ErrorAsync(refused)).GetProperty("code").GetString());
        Assert.NotEmpty(Header(refused, "retry-after"));
        Assert.Equal(2, upstream.Count);
    }
}
