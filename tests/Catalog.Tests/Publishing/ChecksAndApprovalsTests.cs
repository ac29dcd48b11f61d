using System.Text.Json.Nodes;
using LlmMarketplace.Catalog.Listings;
using LlmMarketplace.Catalog.Publishing;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Catalog.Tests.Publishing;

public sealed class ChecksAndApprovalsTests
{
    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {expected}, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    [Fact]
    public async Task Confidential_services_need_two_distinct_approvals()
    {
        await using var upstream = await PublishingFlowTests.StartUpstreamAsync();
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), PublishingFlowTests.DevelopmentCatalog);
        var body = JsonSerializer.SerializeToNode(PublishingFlowTests.Listing("acme/conf-" + Guid.NewGuid().ToString("N")[..8], upstream.BaseUrl + "/v1"))!.AsObject();
        body["compliance"]!["maxDataClassification"] = "confidential";
        var created = await JsonAsync(await host.Client.PostAsJsonAsync("api/v1/services", body), HttpStatusCode.Created);
        var id = created.GetProperty("id").GetString();
        var submitted = await JsonAsync(await host.Client.PostAsync($"api/v1/services/{id}/versions/1.0.0/submit", null), HttpStatusCode.OK);
        Assert.Equal(2, submitted.GetProperty("approvalsRequired").GetInt32());
        var versionId = submitted.GetProperty("id").GetString();

        var first = await JsonAsync(await host.Client.PostAsJsonAsync($"api/v1/approvals/{versionId}/approve", new { reason = "ok" }), HttpStatusCode.OK);
        Assert.Equal("pending_approval", first.GetProperty("state").GetString());
        var again = await JsonAsync(await host.Client.PostAsJsonAsync($"api/v1/approvals/{versionId}/approve", new { reason = "ok" }), HttpStatusCode.Conflict);
        Assert.Contains("another approver", again.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // A rejection needs a reason, then returns the version to draft.
        var noReason = await JsonAsync(await host.Client.PostAsync($"api/v1/approvals/{versionId}/reject", null), HttpStatusCode.BadRequest);
        Assert.True(noReason.GetProperty("errors").TryGetProperty("reason", out _));
        var rejected = await JsonAsync(await host.Client.PostAsJsonAsync($"api/v1/approvals/{versionId}/reject", new { reason = "needs a DPA" }), HttpStatusCode.OK);
        Assert.Equal("draft", rejected.GetProperty("state").GetString());
        Assert.Equal("needs a DPA", rejected.GetProperty("history").EnumerateArray().Last().GetProperty("reason").GetString());
    }

    [Fact]
    public async Task A_wrong_answer_fails_the_conformance_check_and_blocks_auto_approval()
    {
        await using var upstream = await FakeUpstream.StartAsync(static (context, _) => context.Request.Path == "/v1/models"
            ? FakeUpstream.Json(context, """{"object":"list","data":[]}""")
            : FakeUpstream.Json(context, """{"answer":"not the OpenAI shape"}"""));
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"),
            new Dictionary<string, string?>(PublishingFlowTests.DevelopmentCatalog) { ["Catalog:TrustedPublishers:0"] = "acme" });
        var created = await JsonAsync(await host.Client.PostAsJsonAsync("api/v1/services", PublishingFlowTests.Listing("acme/wrong-" + Guid.NewGuid().ToString("N")[..8], upstream.BaseUrl + "/v1")), HttpStatusCode.Created);
        var submitted = await JsonAsync(await host.Client.PostAsync($"api/v1/services/{created.GetProperty("id").GetString()}/versions/1.0.0/submit", null), HttpStatusCode.OK);
        var checks = submitted.GetProperty("checks");
        Assert.False(checks.GetProperty("passed").GetBoolean());
        Assert.Equal("pass", checks.GetProperty("deployments")[0].GetProperty("health").GetProperty("status").GetString());
        Assert.Equal("fail", checks.GetProperty("deployments")[0].GetProperty("conformance").GetProperty("status").GetString());
        Assert.Equal("pending_approval", submitted.GetProperty("state").GetString());
    }

    [Fact]
    public async Task Probes_never_reach_loopback_unless_the_development_setting_allows_it()
    {
        await using var upstream = await PublishingFlowTests.StartUpstreamAsync();
        var spec = new ListingSpec
        {
            Slug = "acme/probe",
            Version = "1.0.0",
            Kind = ListingKinds.Chat,
            Deployments = [new DeploymentSpec { Provider = "p", UpstreamModel = "tiny-1", BaseUrl = upstream.BaseUrl.Replace("127.0.0.1", "localhost", StringComparison.Ordinal) + "/v1" }],
        };
        using var guarded = new ServiceChecker(new CatalogOptions(), TimeProvider.System);
        var blocked = await guarded.RunAsync(spec, default);
        Assert.False(blocked.Passed);
        Assert.Contains("not allowed", blocked.Deployments[0].Health.Detail, StringComparison.Ordinal);
        Assert.Equal(0, upstream.Count);

        using var development = new ServiceChecker(new CatalogOptions { AllowLoopbackEndpoints = true }, TimeProvider.System);
        var allowed = await development.RunAsync(spec, default);
        Assert.True(allowed.Passed);
        Assert.True(upstream.Count >= 2);
    }
}
