using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Shield.Tests.Inline;

/// <summary>
/// The policy engine's content rules drive the shield on the gateway path: PII handling per team (redact, block,
/// allow) over the configured modes, and content block lists refused naming the policy. Callers are real API keys of
/// real teams; the policies are stored through the API.
/// </summary>
public sealed class PolicyShieldTests : UpstreamHostTests
{
    protected override Task AnswerAsync(HttpContext ctx, int _) => FakeUpstream.Json(ctx, Configs.Completion);

    protected override string HostConfig(string upstreamBaseUrl) => ShieldConfig.Yaml(upstreamBaseUrl,
        [new("plain-model"), new("config-redacting-model")],
        [new("config-redacting-model", Pii: "redact")]);

    private static async Task<(HttpStatusCode Status, string Body)> ChatAsync(HttpClient client, string model, string content)
    {
        var body = JsonSerializer.Serialize(new { model, messages = new[] { new { role = "system", content = "Be brief." }, new { role = "user", content } } });
        using var response = await client.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private string? Forwarded(string marker) =>
        Upstream.Requests.SingleOrDefault(r => r.Body.Contains(marker, StringComparison.Ordinal))?.Json.GetProperty("messages")[1].GetProperty("content").GetString();

    [Fact]
    public async Task A_team_policy_with_pii_redact_redacts_that_teams_prompts_only()
    {
        var (teamId, member) = await TeamCallerAsync(Host);
        var (_, outsider) = await TeamCallerAsync(Host);
        using (member)
        using (outsider)
        {
            await PolicyAsync(Host, $"name: {Name("redact-pii")}\nscope: team\nteam: {teamId}\nrules:\n  pii: redact\n");

            var marker = Marker();
            var (status, body) = await ChatAsync(member, "plain-model", $"{marker} mail jane.doe@example.com");
            Assert.True(status == HttpStatusCode.OK, body);
            Assert.Equal($"{marker} mail [EMAIL]", Forwarded(marker));

            // No policy for the other team and no configured scope for the model: forwarded unchanged.
            var other = Marker();
            (status, body) = await ChatAsync(outsider, "plain-model", $"{other} mail jane.doe@example.com");
            Assert.True(status == HttpStatusCode.OK, body);
            Assert.Equal($"{other} mail jane.doe@example.com", Forwarded(other));
        }
    }

    [Fact]
    public async Task A_team_policy_with_pii_block_refuses_that_teams_prompts_naming_the_policy()
    {
        var (teamId, member) = await TeamCallerAsync(Host);
        using (member)
        {
            var name = Name("block-pii");
            await PolicyAsync(Host, $"name: {name}\nscope: team\nteam: {teamId}\nreason: no personal data leaves the team\nrules:\n  pii: block\n");

            var marker = Marker();
            var (status, body) = await ChatAsync(member, "plain-model", $"{marker} my card is 4111 1111 1111 1111");
            Assert.Equal(HttpStatusCode.BadRequest, status);
            var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
            Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
            Assert.Equal("content_blocked", error.GetProperty("code").GetString());
            Assert.Equal("messages", error.GetProperty("param").GetString());
            Assert.Contains("credit_card", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Contains($"policy '{name}'", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.DoesNotContain("4111", body, StringComparison.Ordinal);
            Assert.Null(Forwarded(marker));

            // The same team may still send text without personal data.
            var clean = Marker();
            (status, body) = await ChatAsync(member, "plain-model", $"{clean} what is a haiku?");
            Assert.True(status == HttpStatusCode.OK, body);
        }
    }

    [Fact]
    public async Task A_block_list_term_is_refused_with_403_naming_the_policy_and_never_reaches_the_upstream()
    {
        var (teamId, member) = await TeamCallerAsync(Host);
        var (_, outsider) = await TeamCallerAsync(Host);
        using (member)
        using (outsider)
        {
            var name = Name("falcon");
            await PolicyAsync(Host, $"name: {name}\nscope: team\nteam: {teamId}\nreason: the project is confidential\nrules:\n  content:\n    blockList: [\"project falcon\"]\n");

            var marker = Marker();
            var (status, body) = await ChatAsync(member, "plain-model", $"{marker} Summarise the status of PROJECT Falcon for me.");
            Assert.Equal(HttpStatusCode.Forbidden, status);
            var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
            Assert.Equal(["code", "message", "param", "type"], error.EnumerateObject().Select(static p => p.Name).Order(StringComparer.Ordinal).ToArray());
            Assert.Equal("permission_error", error.GetProperty("type").GetString());
            Assert.Equal("content_blocked_by_policy", error.GetProperty("code").GetString());
            Assert.Contains($"policy '{name}': the project is confidential", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Null(Forwarded(marker));

            // Another team is not bound by this team's block list.
            var other = Marker();
            (status, body) = await ChatAsync(outsider, "plain-model", $"{other} Summarise the status of project falcon.");
            Assert.True(status == HttpStatusCode.OK, body);
            Assert.NotNull(Forwarded(other));
        }
    }

    [Fact]
    public async Task Configured_modes_apply_when_no_policy_speaks_and_a_policy_overrides_them_when_one_does()
    {
        var (teamId, allowed) = await TeamCallerAsync(Host);
        var (_, unpoliced) = await TeamCallerAsync(Host);
        using (allowed)
        using (unpoliced)
        {
            // No policy: the configured scope of the model redacts.
            var marker = Marker();
            var (status, body) = await ChatAsync(unpoliced, "config-redacting-model", $"{marker} call 415-555-2671");
            Assert.True(status == HttpStatusCode.OK, body);
            Assert.Equal($"{marker} call [PHONE]", Forwarded(marker));

            // Policy over configuration: pii allow lets this team's personal data through on the same model.
            await PolicyAsync(Host, $"name: {Name("allow-pii")}\nscope: team\nteam: {teamId}\nrules:\n  pii: allow\n");
            var passed = Marker();
            (status, body) = await ChatAsync(allowed, "config-redacting-model", $"{passed} call 415-555-2671");
            Assert.True(status == HttpStatusCode.OK, body);
            Assert.Equal($"{passed} call 415-555-2671", Forwarded(passed));
        }
    }
}
