using System.ClientModel;
using Microsoft.AspNetCore.Http;
using OpenAI;
using OpenAI.Chat;

namespace LlmMarketplace.Governance.Tests.Policies;

/// <summary>
/// A catalog listing's compliance facts on the real gateway path (published through the catalog API against a loopback
/// upstream): data above its classification is refused, policies requiring zero retention or a certification refuse
/// calls to listings lacking them, and a policy change reports the live listings breaking it, suspends them where it says
/// so and reinstates them once lifted, all audited.
/// </summary>
public sealed class ListingComplianceTests : IAsyncLifetime
{
    private const string Publisher = "acme-compliance";
    private FakeUpstream _upstream = null!;

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync(static async (context, _) =>
    {
        if (context.Request.Method == "GET" && context.Request.Path == "/v1/models")
        {
            await FakeUpstream.Json(context, """{"object":"list","data":[{"id":"tiny-1","object":"model"}]}""");
            return;
        }
        if (context.Request.Path == "/v1/chat/completions")
        {
            await FakeUpstream.Json(context, """{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"tiny-1","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}""");
            return;
        }
        context.Response.StatusCode = StatusCodes.Status404NotFound;
    });

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    private static Task<GatewayHost> StartAsync(string provider) => Gov.StartOnAsync(provider, overrides: new Dictionary<string, string?>
    {
        ["Catalog:AllowLoopbackEndpoints"] = "true",
        ["Catalog:TrustedPublishers:0"] = Publisher,
    });

    /// <summary>Publishes a listing (a trusted publisher's version goes live on submit) and waits until the gateway routes it; returns its service id and slug.</summary>
    private static async Task<string[]> ListedModelsAsync(GatewayHost host) =>
        [.. (await host.Client.GetFromJsonAsync<JsonElement>("v1/models")).GetProperty("data").EnumerateArray().Select(static m => m.GetProperty("id").GetString()!)];

    private async Task<(string Id, string Slug)> PublishAsync(GatewayHost host, string name, bool zeroRetention, string[] certifications, string maxDataClassification = "internal")
    {
        var slug = $"{Publisher}/{name}-{Guid.NewGuid().ToString("N")[..8]}";
        var listing = TestListings.Chat(slug, _upstream.BaseUrl + "/v1", "Compliance test chat " + name, "A chat model for tests of listing compliance.", Publisher);
        listing["compliance"] = JsonSerializer.SerializeToNode(new { certifications, zeroRetention, maxDataClassification });
        using var created = await host.Client.PostAsJsonAsync("api/v1/services", listing);
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var id = (await Gov.JsonAsync(created)).GetProperty("id").GetString()!;
        using var submitted = await host.Client.PostAsync($"api/v1/services/{id}/versions/1.0.0/submit", null);
        var state = await Gov.JsonAsync(submitted);
        Assert.True(state.GetProperty("state").GetString() == "published", state.ToString());
        await Wait.UntilAsync(async () =>
        {
            using var response = await ChatAsync(host.Client, slug);
            return response.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(15), $"the listing {slug} to become routable");
        return (id, slug);
    }

    private static async Task<HttpResponseMessage> ChatAsync(HttpClient client, string model, string? classification = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { model, messages = new[] { new { role = "user", content = "hello" } } }), Encoding.UTF8, "application/json"),
        };
        if (classification is not null) request.Headers.Add("x-data-classification", classification);
        return await client.SendAsync(request);
    }

    private static async Task<JsonElement> RefusalAsync(HttpResponseMessage response, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"expected 403 {code}, got {(int)response.StatusCode}: {text}");
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.Equal("permission_error", error.GetProperty("type").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
        return error.Clone();
    }

    private static async Task<string> SendPolicyAsync(GatewayHost host, HttpMethod method, string path, string yaml, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new StringContent(yaml, Encoding.UTF8, "application/yaml") };
        using var response = await host.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {expected}, got {(int)response.StatusCode}: {text}");
        return text;
    }

    private static async Task<JsonElement[]> ViolationsAsync(GatewayHost host, string query = "")
    {
        using var response = await host.Client.GetAsync("api/v1/governance/compliance/violations" + query);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var json = JsonDocument.Parse(text).RootElement;
        var data = json.GetProperty("data").EnumerateArray().Select(static e => e.Clone()).ToArray();
        Assert.Equal(data.Length, json.GetProperty("total").GetInt64());
        return data;
    }

    private static async Task<JsonElement[]> AuditAsync(GatewayHost host, string action, string serviceId)
    {
        var json = await host.Client.GetFromJsonAsync<JsonElement>($"api/v1/audit?action={action}&targetId={Uri.EscapeDataString(serviceId + "@1.0.0")}&limit=100");
        return json.GetProperty("data").EnumerateArray().Select(static e => e.Clone()).ToArray();
    }

    [Theory]
    [OnEachStorage]
    public async Task Data_above_a_listings_classification_is_refused_in_openai_envelope_and_metered(string provider)
    {
        await using var host = await StartAsync(provider);
        var (_, slug) = await PublishAsync(host, "internal-only", zeroRetention: true, ["SOC2"]);
        var upstreamCalls = _upstream.Count;

        using var refused = await ChatAsync(host.Client, slug, "confidential");
        var error = await RefusalAsync(refused, "classification_exceeds_listing");
        Assert.Equal("x-data-classification", error.GetProperty("param").GetString());
        Assert.Contains("'confidential'", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("at most 'internal'", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(upstreamCalls, _upstream.Count);

        // Metered like every policy refusal: a usage record with the status, nothing charged.
        var requestId = refused.Headers.GetValues("x-request-id").Single();
        var usage = await host.Client.GetFromJsonAsync<JsonElement>($"api/v1/usage?requestId={requestId}");
        var record = usage.GetProperty("data").EnumerateArray().Single();
        Assert.Equal(403, record.GetProperty("status").GetInt32());
        Assert.Equal(0m, record.GetProperty("costUsd").GetDecimal());

        // The official client sees the same refusal.
        var client = new ChatClient(slug, new ApiKeyCredential(host.MasterKey), new OpenAIClientOptions { Endpoint = host.OpenAIBase, NetworkTimeout = TimeSpan.FromSeconds(30) });
        var options = new System.ClientModel.Primitives.RequestOptions();
        options.AddHeader("x-data-classification", "restricted");
        var thrown = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync(
            BinaryContent.Create(BinaryData.FromObjectAsJson(new { model = slug, messages = new[] { new { role = "user", content = "hello" } } })), options));
        Assert.Equal(403, thrown.Status);
        Assert.Contains("classification_exceeds_listing", thrown.GetRawResponse()!.Content.ToString(), StringComparison.Ordinal);

        // At or below the listing's classification (stated, or the default 'internal') the call goes through.
        using (var stated = await ChatAsync(host.Client, slug, "public")) Assert.Equal(HttpStatusCode.OK, stated.StatusCode);
        using (var defaulted = await ChatAsync(host.Client, slug)) Assert.Equal(HttpStatusCode.OK, defaulted.StatusCode);
        Assert.Equal(upstreamCalls + 2, _upstream.Count);
    }

    [Theory]
    [OnEachStorage]
    public async Task A_team_policy_requiring_zero_retention_refuses_that_teams_calls_to_a_listing_without_it(string provider)
    {
        await using var host = await StartAsync(provider);
        var (_, keeps) = await PublishAsync(host, "keeps-data", zeroRetention: false, ["SOC2"]);
        var (_, forgets) = await PublishAsync(host, "forgets-data", zeroRetention: true, ["SOC2"]);
        await SendPolicyAsync(host, HttpMethod.Post, "api/v1/policies", """
            name: legal-zero-retention
            scope: team
            team: team-legal
            reason: legal prompts must not be kept
            rules:
              requireZeroRetention: true
            """, HttpStatusCode.Created);
        using var legal = await Gov.ClientForRoleAsync(host, Roles.Viewer, ["team-legal"]);
        using var other = await Gov.ClientForRoleAsync(host, Roles.Viewer, ["team-sales"]);

        var error = await RefusalAsync(await ChatAsync(legal, keeps), "listing_not_compliant");
        Assert.Equal("model", error.GetProperty("param").GetString());
        Assert.Contains("zero data retention", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("legal prompts must not be kept", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        using (var allowed = await ChatAsync(legal, forgets)) Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        using (var otherTeam = await ChatAsync(other, keeps)) Assert.Equal(HttpStatusCode.OK, otherTeam.StatusCode);

        // A team policy refuses its own callers' calls; it does not make the listing a violation for everyone.
        Assert.Empty(await ViolationsAsync(host));
    }

    [Theory]
    [OnEachStorage]
    public async Task A_policy_change_reports_and_suspends_violating_listings_and_lifting_it_reinstates_them(string provider)
    {
        await using var host = await StartAsync(provider);
        var (weakId, weak) = await PublishAsync(host, "soc2-only", zeroRetention: false, ["SOC2"]);
        var (strongId, strong) = await PublishAsync(host, "certified", zeroRetention: true, ["SOC2", "ISO27001"]);
        Assert.Empty(await ViolationsAsync(host));
        Assert.Contains(weak, await ListedModelsAsync(host));

        // A global policy that suspends: the listing lacking the certification is reported and suspended at once.
        var created = await SendPolicyAsync(host, HttpMethod.Post, "api/v1/policies", """
            name: iso-required
            scope: global
            reason: customers require ISO 27001
            onViolation: suspend
            rules:
              requiredCertifications: [iso27001]
            """, HttpStatusCode.Created);
        var isoId = JsonDocument.Parse(created).RootElement.GetProperty("id").GetString()!;
        var open = await ViolationsAsync(host);
        var violation = Assert.Single(open);
        Assert.Equal(weakId, violation.GetProperty("listingId").GetString());
        Assert.Equal(weak, violation.GetProperty("slug").GetString());
        Assert.Equal("1.0.0", violation.GetProperty("version").GetString());
        Assert.Equal(isoId, violation.GetProperty("policyId").GetString());
        Assert.Equal("iso-required", violation.GetProperty("policyName").GetString());
        Assert.Equal("suspend", violation.GetProperty("action").GetString());
        Assert.True(violation.GetProperty("suspended").GetBoolean());
        Assert.Contains("ISO27001", violation.GetProperty("reasons")[0].GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Single(await AuditAsync(host, "compliance.violation_detected", weakId));
        Assert.Single(await AuditAsync(host, "compliance.listing_suspended", weakId));
        Assert.Empty(await AuditAsync(host, "compliance.violation_detected", strongId));

        var suspended = await RefusalAsync(await ChatAsync(host.Client, weak), "listing_suspended");
        Assert.Contains("customers require ISO 27001", suspended.GetProperty("message").GetString(), StringComparison.Ordinal);
        using (var fine = await ChatAsync(host.Client, strong)) Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
        // A suspended listing cannot be called, so GET /v1/models leaves it out; the compliant one stays listed.
        var listed = await ListedModelsAsync(host);
        Assert.DoesNotContain(weak, listed);
        Assert.Contains(strong, listed);

        // A report-only policy lists the violation without suspending; its requirement still refuses the calls.
        await SendPolicyAsync(host, HttpMethod.Post, "api/v1/policies", """
            name: zero-retention-everywhere
            scope: global
            rules:
              requireZeroRetention: true
            """, HttpStatusCode.Created);
        open = await ViolationsAsync(host, $"?listing={Uri.EscapeDataString(weak)}");
        Assert.Equal(2, open.Length);
        var reported = Assert.Single(open, static v => v.GetProperty("policyName").GetString() == "zero-retention-everywhere");
        Assert.Equal("report", reported.GetProperty("action").GetString());
        Assert.False(reported.GetProperty("suspended").GetBoolean());

        // Re-evaluating the same policies again (another replica's reload, the catch-up) records and audits nothing twice.
        using (var reload = await host.Client.PostAsync("api/v1/policies/reload", null)) Assert.Equal(HttpStatusCode.OK, reload.StatusCode);
        Assert.Equal(2, (await ViolationsAsync(host)).Length);
        Assert.Equal(2, (await AuditAsync(host, "compliance.violation_detected", weakId)).Length);
        Assert.Single(await AuditAsync(host, "compliance.listing_suspended", weakId));

        // Lifting the suspending policy (a new version the listing meets) resolves its violation and reinstates the listing.
        await SendPolicyAsync(host, HttpMethod.Put, $"api/v1/policies/{isoId}", """
            name: iso-required
            scope: global
            reason: customers require SOC 2
            onViolation: suspend
            rules:
              requiredCertifications: [soc2]
            """, HttpStatusCode.OK);
        var remaining = Assert.Single(await ViolationsAsync(host));
        Assert.Equal("zero-retention-everywhere", remaining.GetProperty("policyName").GetString());
        var resolved = Assert.Single(await ViolationsAsync(host, $"?status=resolved&policy={isoId}"));
        Assert.Equal("resolved", resolved.GetProperty("status").GetString());
        Assert.False(resolved.GetProperty("suspended").GetBoolean());
        Assert.True(resolved.TryGetProperty("resolvedAt", out var at) && at.ValueKind == JsonValueKind.String);
        Assert.Single(await AuditAsync(host, "compliance.listing_reinstated", weakId));
        Assert.Single(await AuditAsync(host, "compliance.violation_resolved", weakId));
        Assert.Contains(weak, await ListedModelsAsync(host));
        await RefusalAsync(await ChatAsync(host.Client, weak), "listing_not_compliant");

        // Deleting the report-only policy leaves nothing open, and the listing is called again.
        var policies = await host.Client.GetFromJsonAsync<JsonElement>("api/v1/policies");
        var zeroId = policies.GetProperty("data").EnumerateArray().Single(static p => p.GetProperty("name").GetString() == "zero-retention-everywhere").GetProperty("id").GetString();
        using (var deleted = await host.Client.DeleteAsync($"api/v1/policies/{zeroId}")) Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Empty(await ViolationsAsync(host));
        Assert.Equal(2, (await ViolationsAsync(host, "?status=all")).Length);
        using (var back = await ChatAsync(host.Client, weak)) Assert.Equal(HttpStatusCode.OK, back.StatusCode);
    }

    [Fact]
    public async Task Two_replicas_reevaluating_the_same_change_suspend_and_reinstate_once()
    {
        await using var storage = await TestStorage.CreateAsync("postgres");
        var settings = storage.Overrides;
        settings["Security:EncryptionKey"] = GatewayHost.NewRootKey();
        settings["Catalog:AllowLoopbackEndpoints"] = "true";
        settings["Catalog:TrustedPublishers:0"] = Publisher;
        // No Redis here: the other replica hears of changes only at its catch-up, every second.
        settings["Governance:RefreshSeconds"] = "1";
        settings["Catalog:RefreshSeconds"] = "1";
        await using var first = await Gov.StartAsync(overrides: settings);
        await using var second = await Gov.StartAsync(overrides: settings);
        var (id, slug) = await PublishAsync(first, "replicated", zeroRetention: false, ["SOC2"]);
        await Wait.UntilAsync(async () =>
        {
            using var response = await ChatAsync(second.Client, slug);
            return response.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(15), "the other replica to route the listing");

        var created = await SendPolicyAsync(first, HttpMethod.Post, "api/v1/policies", """
            name: hipaa-only
            scope: global
            reason: health data
            onViolation: suspend
            rules:
              requiredCertifications: [hipaa]
            """, HttpStatusCode.Created);
        var policyId = JsonDocument.Parse(created).RootElement.GetProperty("id").GetString()!;
        await RefusalAsync(await ChatAsync(first.Client, slug), "listing_suspended");
        // The other replica suspends it from its own re-evaluation, which finds the violation already recorded.
        await Wait.UntilAsync(async () =>
        {
            using var response = await ChatAsync(second.Client, slug);
            return response.StatusCode == HttpStatusCode.Forbidden && (await response.Content.ReadAsStringAsync()).Contains("listing_suspended", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(15), "the other replica to suspend the listing");
        Assert.Single(await AuditAsync(second, "compliance.violation_detected", id));
        Assert.Single(await AuditAsync(second, "compliance.listing_suspended", id));
        Assert.Single(await ViolationsAsync(second));

        using (var deleted = await first.Client.DeleteAsync($"api/v1/policies/{policyId}")) Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await Wait.UntilAsync(async () =>
        {
            using var response = await ChatAsync(second.Client, slug);
            return response.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(15), "the other replica to reinstate the listing");
        Assert.Single(await AuditAsync(first, "compliance.listing_reinstated", id));
        Assert.Single(await AuditAsync(first, "compliance.violation_resolved", id));
        Assert.Empty(await ViolationsAsync(second));
    }

    [Fact]
    public async Task Bad_input_is_a_problem_listing_every_error()
    {
        await using var host = await StartAsync("sqlite");
        using var response = await host.Client.GetAsync("api/v1/governance/compliance/violations?status=bogus&limit=0&offset=-1");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = (await Gov.JsonAsync(response)).GetProperty("errors");
        Assert.True(errors.TryGetProperty("status", out _), errors.ToString());
        Assert.True(errors.TryGetProperty("limit", out _), errors.ToString());
        Assert.True(errors.TryGetProperty("offset", out _), errors.ToString());

        var invalid = await SendPolicyAsync(host, HttpMethod.Post, "api/v1/policies", """
            name: bad-compliance
            scope: team
            team: team-1
            onViolation: suspend
            rules:
              requireZeroRetention: "yes"
            """, HttpStatusCode.BadRequest);
        var policyErrors = JsonDocument.Parse(invalid).RootElement.GetProperty("errors");
        Assert.True(policyErrors.TryGetProperty("onViolation", out _), policyErrors.ToString());
        Assert.True(policyErrors.TryGetProperty("rules.requireZeroRetention", out _), policyErrors.ToString());
        await SendPolicyAsync(host, HttpMethod.Post, "api/v1/policies", "name: bad-action\nscope: global\nonViolation: delete\n", HttpStatusCode.BadRequest);
    }
}
