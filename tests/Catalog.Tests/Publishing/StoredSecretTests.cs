using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Catalog.Tests.Publishing;

/// <summary>A listing's deployment credential kept in the encrypted secret store (<c>secret:NAME</c>): used for checks and calls, never shown.</summary>
public sealed class StoredSecretTests
{
    private const string UpstreamKey = "sk-upstream-4c1b8e2f9a";

    [Fact]
    public async Task A_deployment_key_from_the_secret_store_is_used_for_checks_and_calls_and_never_returned()
    {
        await using var upstream = await FakeUpstream.StartAsync(static async (context, _) =>
        {
            if (context.Request.Headers.Authorization.ToString() != "Bearer " + UpstreamKey)
            {
                await FakeUpstream.Json(context, """{"error":{"message":"bad key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}""", StatusCodes.Status401Unauthorized);
                return;
            }
            if (context.Request.Method == "GET")
            {
                await FakeUpstream.Json(context, """{"object":"list","data":[{"id":"tiny-1","object":"model"}]}""");
                return;
            }
            await FakeUpstream.Json(context, """{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"tiny-1","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}""");
        });
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI("https://upstream.invalid/v1"), PublishingFlowTests.DevelopmentCatalog);
        using (var put = await host.Client.PutAsJsonAsync("api/v1/secrets/acme-upstream", new { value = UpstreamKey }))
        {
            Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
        }

        var slug = "acme/secret-" + Guid.NewGuid().ToString("N")[..8];
        var listing = JsonSerializer.SerializeToNode(PublishingFlowTests.Listing(slug, upstream.BaseUrl + "/v1"))!;
        listing["deployments"]![0]!["apiKey"] = "secret:acme-upstream";
        using var created = await host.Client.PostAsJsonAsync("api/v1/services", listing);
        var createdText = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == HttpStatusCode.Created, createdText);
        var serviceId = JsonDocument.Parse(createdText).RootElement.GetProperty("id").GetString()!;

        using var submitted = await host.Client.PostAsync(new Uri($"api/v1/services/{serviceId}/versions/1.0.0/submit", UriKind.Relative), null);
        var checks = JsonDocument.Parse(await submitted.Content.ReadAsStringAsync()).RootElement.GetProperty("checks");
        Assert.True(checks.GetProperty("passed").GetBoolean(), checks.ToString());
        var versionId = JsonDocument.Parse(await (await host.Client.GetAsync(new Uri($"api/v1/services/{serviceId}/versions/1.0.0", UriKind.Relative))).Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString();
        using (var approved = await host.Client.PostAsJsonAsync($"api/v1/approvals/{versionId}/approve", new { reason = "ok" }))
        {
            Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
        }

        HttpStatusCode status = default;
        await Wait.UntilAsync(() =>
        {
            using var chat = host.Client.PostAsJsonAsync("v1/chat/completions", new { model = slug, messages = new[] { new { role = "user", content = "hi" } } }).GetAwaiter().GetResult();
            status = chat.StatusCode;
            return status != HttpStatusCode.NotFound;
        }, TimeSpan.FromSeconds(10), "the approved listing to become routable");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains(upstream.Requests, static r => r.Method == "POST" && r.Headers.GetValueOrDefault("authorization") == "Bearer " + UpstreamKey);

        // The listing holds the reference only; no API returns the value.
        var service = await host.Client.GetStringAsync(new Uri($"api/v1/services/{serviceId}/versions/1.0.0", UriKind.Relative));
        Assert.DoesNotContain(UpstreamKey, service, StringComparison.Ordinal);
        Assert.DoesNotContain(UpstreamKey, await host.Client.GetStringAsync(new Uri("v1/models", UriKind.Relative)), StringComparison.Ordinal);
        Assert.DoesNotContain(UpstreamKey, await host.Client.GetStringAsync(new Uri("api/v1/secrets", UriKind.Relative)), StringComparison.Ordinal);
    }
}
