namespace LlmMarketplace.Governance.Tests.Identity;

/// <summary>A person in several teams names the team a gateway call is for with OpenAI's <c>OpenAI-Project</c> header.</summary>
public sealed class ProjectHeaderTests : IAsyncLifetime
{
    private FakeUpstream _upstream = null!;

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync(static (ctx, _) => FakeUpstream.Json(ctx, Configs.Completion));

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    private static async Task<(HttpStatusCode Status, string RequestId, string Body)> ChatAsync(HttpClient client, string? project)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        if (project is not null) request.Headers.Add("OpenAI-Project", project);
        using var response = await client.SendAsync(request);
        return (response.StatusCode, response.Headers.GetValues("x-request-id").Single(), await response.Content.ReadAsStringAsync());
    }

    private static async Task<string?> TeamOfAsync(GatewayHost host, string requestId)
    {
        using var response = await host.Client.GetAsync(new Uri($"api/v1/usage?requestId={requestId}", UriKind.Relative));
        var record = (await Gov.JsonAsync(response)).GetProperty("data").EnumerateArray().Single();
        return record.GetProperty("teamId").GetString();
    }

    [Fact]
    public async Task The_call_is_charged_to_the_named_team_and_a_team_the_caller_is_not_in_is_refused()
    {
        await using var host = await Gov.StartAsync(Configs.OpenAI(_upstream.BaseUrl + "/v1"));
        using var member = await Gov.ClientForRoleAsync(host, Roles.Viewer, ["team-a", "team-b"]);

        var named = await ChatAsync(member, "team-b");
        Assert.Equal(HttpStatusCode.OK, named.Status);
        Assert.Equal("team-b", await TeamOfAsync(host, named.RequestId));

        var unnamed = await ChatAsync(member, null);
        Assert.Equal(HttpStatusCode.OK, unnamed.Status);
        Assert.Equal("team-a", await TeamOfAsync(host, unnamed.RequestId));

        var foreign = await ChatAsync(member, "team-z");
        Assert.Equal(HttpStatusCode.Forbidden, foreign.Status);
        Assert.Contains("\"code\":\"team_not_allowed\"", foreign.Body, StringComparison.Ordinal);
        Assert.Equal(2, _upstream.Count);
    }

    [Fact]
    public async Task An_api_key_is_refused_for_a_team_it_does_not_belong_to()
    {
        await using var host = await Gov.StartAsync(Configs.OpenAI(_upstream.BaseUrl + "/v1"));
        using var created = await host.Client.PostAsync("api/v1/keys", new StringContent("""{"name":"team-key","team":"team-k"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var client = Gov.WithToken(host, (await Gov.JsonAsync(created)).GetProperty("key").GetString()!);

        Assert.Equal(HttpStatusCode.OK, (await ChatAsync(client, "team-k")).Status);
        var other = await ChatAsync(client, "team-x");
        Assert.Equal(HttpStatusCode.Forbidden, other.Status);
        Assert.Contains("\"code\":\"team_not_allowed\"", other.Body, StringComparison.Ordinal);
    }
}
