using Dapper;
using LlmMarketplace.BuildingBlocks.Storage;

namespace LlmMarketplace.Governance.Tests.Policies;

/// <summary>Policies decide on the real gateway path: denied models are refused, residency routes to the allowed region's deployment.</summary>
public sealed class PolicyGatewayTests : IAsyncLifetime
{
    private FakeUpstream _us = null!;
    private FakeUpstream _eu = null!;

    public async Task InitializeAsync()
    {
        _us = await FakeUpstream.StartAsync(static (ctx, _) => FakeUpstream.Json(ctx, Configs.Completion));
        _eu = await FakeUpstream.StartAsync(static (ctx, _) => FakeUpstream.Json(ctx, Configs.Completion));
    }

    public async Task DisposeAsync()
    {
        await _us.DisposeAsync();
        await _eu.DisposeAsync();
    }

    private string Config => $"""
        Providers:
          - Name: us-east
            Type: openai
            BaseUrl: {_us.BaseUrl}/v1
            Region: us-east-1
          - Name: eu-west
            Type: openai
            BaseUrl: {_eu.BaseUrl}/v1
            Region: eu-west-1
        Models:
          - Name: gpt-4o-mini
            Routing: priority
            Deployments:
              - Provider: us-east
                Model: gpt-4o-mini
              - Provider: eu-west
                Model: gpt-4o-mini
          - Name: gpt-4
            Deployments:
              - Provider: us-east
                Model: gpt-4
        """;

    private static async Task<HttpResponseMessage> ChatAsync(HttpClient client, string model, string? classification = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent($$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
        };
        if (classification is not null) request.Headers.Add("x-data-classification", classification);
        return await client.SendAsync(request);
    }

    private static async Task<string> CreatePolicyAsync(GatewayHost host, string body, string contentType = "application/yaml")
    {
        using var response = await host.Client.PostAsync("api/v1/policies", new StringContent(body, Encoding.UTF8, contentType));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await Gov.JsonAsync(response)).GetProperty("id").GetString()!;
    }

    [Fact]
    public async Task A_denied_model_is_refused_with_the_policy_reason_in_openai_envelope()
    {
        await using var host = await Gov.StartAsync(Config);
        await CreatePolicyAsync(host, """
            name: no-gpt4
            scope: global
            reason: GPT-4 is retired here; use gpt-4o-mini
            rules:
              models:
                deny: ["gpt-4"]
            """);
        using var denied = await ChatAsync(host.Client, "gpt-4");
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        var error = (await Gov.JsonAsync(denied)).GetProperty("error");
        Assert.Equal("permission_error", error.GetProperty("type").GetString());
        Assert.Equal("model_not_allowed", error.GetProperty("code").GetString());
        Assert.Equal("model", error.GetProperty("param").GetString());
        Assert.Contains("GPT-4 is retired here", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, _us.Count);

        using var allowed = await ChatAsync(host.Client, "gpt-4o-mini");
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    [Fact]
    public async Task A_residency_rule_routes_a_team_to_the_deployment_in_its_allowed_region()
    {
        await using var host = await Gov.StartAsync(Config);
        await CreatePolicyAsync(host, """{"name":"eu-only","scope":"team","team":"team-eu","rules":{"regions":{"allow":["eu-west-1"]}}}""", "application/json");
        using var euMember = await Gov.ClientForRoleAsync(host, Roles.Viewer, ["team-eu"]);
        using var other = await Gov.ClientForRoleAsync(host, Roles.Viewer, ["team-us"]);

        using (var eu = await ChatAsync(euMember, "gpt-4o-mini"))
        {
            Assert.Equal(HttpStatusCode.OK, eu.StatusCode);
            Assert.Equal("eu-west/gpt-4o-mini", eu.Headers.GetValues("x-gateway-deployment").Single());
        }
        Assert.Equal(1, _eu.Count);
        Assert.Equal(0, _us.Count);

        using (var us = await ChatAsync(other, "gpt-4o-mini"))
        {
            Assert.Equal(HttpStatusCode.OK, us.StatusCode);
            Assert.Equal("us-east/gpt-4o-mini", us.Headers.GetValues("x-gateway-deployment").Single());
        }

        // gpt-4 has no deployment in the EU: refused rather than sent elsewhere.
        using var nowhere = await ChatAsync(euMember, "gpt-4");
        Assert.Equal(HttpStatusCode.Forbidden, nowhere.StatusCode);
        Assert.Equal("no_compliant_deployment", (await Gov.JsonAsync(nowhere)).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(1, _us.Count);
    }

    [Fact]
    public async Task Data_above_the_teams_maximum_classification_is_refused()
    {
        await using var host = await Gov.StartAsync(Config);
        await CreatePolicyAsync(host, "name: internal-max\nscope: team\nteam: team-c\nrules:\n  maxClassification: internal\n");
        using var member = await Gov.ClientForRoleAsync(host, Roles.Viewer, ["team-c"]);
        using (var ok = await ChatAsync(member, "gpt-4o-mini", "internal")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var refused = await ChatAsync(member, "gpt-4o-mini", "confidential"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal("classification_not_allowed", (await Gov.JsonAsync(refused)).GetProperty("error").GetProperty("code").GetString());
        }
        using var bad = await ChatAsync(member, "gpt-4o-mini", "top-secret");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("x-data-classification", (await Gov.JsonAsync(bad)).GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task An_invalid_document_lists_every_error_and_stores_nothing()
    {
        await using var host = await Gov.StartAsync(Config);
        using var response = await host.Client.PostAsync("api/v1/policies", new StringContent("""
            name: "bad policy!"
            scope: team
            colour: blue
            rules:
              models: {allow: [1]}
              regions: {allow: []}
              maxClassification: secret
              pii: shred
              budget: {maxUsd: -5, period: weekly}
            """, Encoding.UTF8, "application/yaml"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await Gov.JsonAsync(response)).GetProperty("errors");
        foreach (var path in new[] { "name", "team", "colour", "rules.models.allow[0]", "rules.regions.allow", "rules.maxClassification", "rules.pii", "rules.budget.maxUsd", "rules.budget.period" })
        {
            Assert.True(errors.TryGetProperty(path, out _), $"expected an error at {path}: {errors}");
        }
        using var malformed = await host.Client.PostAsync("api/v1/policies", new StringContent("name: [unclosed", Encoding.UTF8, "application/yaml"));
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);

        var list = await host.Client.GetFromJsonAsync<JsonElement>("api/v1/policies");
        Assert.Equal(0, list.GetProperty("data").GetArrayLength());
        var audit = await host.Client.GetFromJsonAsync<JsonElement>("api/v1/audit?action=policy.created");
        Assert.Equal(0, audit.GetProperty("total").GetInt64());
    }

    [Theory]
    [OnEachStorage]
    public async Task Policies_are_versioned_and_each_change_is_audited_and_applied_at_once(string provider)
    {
        await using var host = await Gov.StartOnAsync(provider, Config);
        var id = await CreatePolicyAsync(host, "name: models\nscope: global\nrules:\n  models: {deny: [gpt-4]}\n");
        using (var denied = await ChatAsync(host.Client, "gpt-4")) Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);

        using var update = await host.Client.PutAsync($"api/v1/policies/{id}", new StringContent("name: models\nscope: global\nrules:\n  models: {deny: [gpt-3*]}\n", Encoding.UTF8, "application/yaml"));
        Assert.Equal(HttpStatusCode.OK, update.StatusCode);
        using (var allowed = await ChatAsync(host.Client, "gpt-4")) Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);

        var policy = await host.Client.GetFromJsonAsync<JsonElement>($"api/v1/policies/{id}");
        Assert.Equal(2, policy.GetProperty("currentVersion").GetInt32());
        Assert.Equal(2, policy.GetProperty("versions").GetArrayLength());
        Assert.Equal("gpt-4", policy.GetProperty("versions")[0].GetProperty("document").GetProperty("rules").GetProperty("models").GetProperty("deny")[0].GetString());

        var entry = (await host.Client.GetFromJsonAsync<JsonElement>($"api/v1/audit?action=policy.updated&targetId={id}")).GetProperty("data")[0];
        Assert.Equal(1, entry.GetProperty("before").GetProperty("version").GetInt32());
        Assert.Equal(2, entry.GetProperty("after").GetProperty("version").GetInt32());

        Assert.Equal(HttpStatusCode.NoContent, (await host.Client.DeleteAsync($"api/v1/policies/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client.GetAsync($"api/v1/policies/{id}")).StatusCode);
    }

    [Fact]
    public async Task A_dry_run_shows_the_decision_a_candidate_policy_would_make()
    {
        await using var host = await Gov.StartAsync(Config);
        using var viewer = await Gov.ClientForRoleAsync(host, Roles.Viewer);
        using var response = await viewer.PostAsJsonAsync("api/v1/policies/dry-run", new
        {
            request = new { model = "gpt-4o-mini", teams = new[] { "team-x" } },
            policy = JsonSerializer.Deserialize<JsonElement>("""{"name":"x-eu","scope":"team","team":"team-x","rules":{"regions":{"allow":["eu-west-1"]},"pii":"redact"}}"""),
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await Gov.JsonAsync(response);
        var decision = result.GetProperty("decision");
        Assert.True(decision.GetProperty("allowed").GetBoolean());
        Assert.Equal(["eu-west/gpt-4o-mini"], decision.GetProperty("allowedDeployments").EnumerateArray().Select(static d => d.GetString()!).ToArray());
        Assert.Equal("Redact", decision.GetProperty("pii").GetString());
        Assert.Contains("x-eu", decision.GetProperty("reasons")[0].GetString(), StringComparison.Ordinal);
        var verdicts = result.GetProperty("deployments").EnumerateArray().ToDictionary(static d => d.GetProperty("id").GetString()!, static d => d.GetProperty("allowed").GetBoolean());
        Assert.False(verdicts["us-east/gpt-4o-mini"]);
        Assert.True(verdicts["eu-west/gpt-4o-mini"]);
        // The candidate was not stored.
        Assert.Equal(0, (await host.Client.GetFromJsonAsync<JsonElement>("api/v1/policies")).GetProperty("data").GetArrayLength());

        using var invalid = await viewer.PostAsJsonAsync("api/v1/policies/dry-run", new { request = new { teams = Array.Empty<string>() }, policy = new { scope = "galaxy" } });
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var errors = (await Gov.JsonAsync(invalid)).GetProperty("errors");
        Assert.True(errors.TryGetProperty("request.model", out _) && errors.TryGetProperty("policy.name", out _) && errors.TryGetProperty("policy.scope", out _));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task When_stored_policies_cannot_be_compiled_the_gateway_fails_closed_unless_configured_open(bool failOpen)
    {
        await using var host = await Gov.StartAsync(Config, overrides: new Dictionary<string, string?> { ["Governance:PolicyFailOpen"] = failOpen ? "true" : "false" });
        var id = await CreatePolicyAsync(host, "name: fine\nscope: global\nrules:\n  models: {deny: [gpt-3*]}\n");
        await using (var connection = await host.Service<Database>().OpenAsync())
        {
            await connection.ExecuteAsync("UPDATE gov_policy_versions SET document = 'scope: [broken' WHERE policy_id = @id", new { id });
        }
        using (var reload = await host.Client.PostAsync("api/v1/policies/reload", null)) Assert.Equal(HttpStatusCode.Conflict, reload.StatusCode);
        using var response = await ChatAsync(host.Client, "gpt-4o-mini");
        if (failOpen)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        else
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("policy_engine_unavailable", (await Gov.JsonAsync(response)).GetProperty("error").GetProperty("code").GetString());
            Assert.Equal(0, _us.Count + _eu.Count);
        }
    }
}
