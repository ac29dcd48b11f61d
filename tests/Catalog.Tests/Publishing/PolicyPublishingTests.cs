using System.Text.Json.Nodes;

namespace LlmMarketplace.Catalog.Tests.Publishing;

/// <summary>The policy layer of listing validation: the platform's global policies judge every new listing and version.</summary>
public sealed class PolicyPublishingTests
{
    private static async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(Task<HttpResponseMessage> send)
    {
        using var response = await send;
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private static JsonObject Listing(string slug, string provider, string region, string[] certifications)
    {
        var listing = TestListings.Chat(slug, "https://models.example.com/v1", "Policy test model", "A listing judged by the platform's policies.");
        listing["deployments"]![0]!["provider"] = provider;
        listing["deployments"]![0]!["region"] = region;
        listing["compliance"] = new JsonObject { ["certifications"] = JsonSerializer.SerializeToNode(certifications) };
        return listing;
    }

    [Fact]
    public async Task A_listing_that_breaks_a_global_policy_is_refused_with_every_reason_and_a_compliant_one_is_accepted()
    {
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI("https://upstream.invalid/v1"));
        using (var created = await host.Client.PostAsync("api/v1/policies", new StringContent(
            "name: vendor-rules\nscope: global\nreason: vendor policy 7\nrules:\n  requiredCertifications: [soc2]\n  regions: {allow: [eu-west-1]}\n  providers: {deny: [shady-cloud]}\n",
            Encoding.UTF8, "application/yaml")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var (status, body) = await SendAsync(host.Client.PostAsJsonAsync("api/v1/services", Listing("policy-refused", "shady-cloud", "us-east-1", [])));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var errors = body.GetProperty("errors");
        var general = errors.GetProperty("policy").EnumerateArray().Select(static e => e.GetString()!).ToList();
        Assert.Contains(general, static r => r.Contains("soc2", StringComparison.Ordinal) && r.Contains("vendor policy 7", StringComparison.Ordinal));
        Assert.Contains(general, static r => r.Contains("eu-west-1", StringComparison.Ordinal));
        Assert.Contains("shady-cloud", errors.GetProperty("deployments[0].provider")[0].GetString(), StringComparison.Ordinal);
        // Nothing stored.
        using (var missing = await host.Client.GetAsync(new Uri("api/v1/services/policy-refused", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        var (okStatus, okBody) = await SendAsync(host.Client.PostAsJsonAsync("api/v1/services", Listing("policy-compliant", "acme-cloud", "eu-west-1", ["SOC2"])));
        Assert.True(okStatus == HttpStatusCode.Created, okBody.ToString());
    }

    [Fact]
    public async Task A_listing_without_zero_retention_is_refused_where_a_global_policy_requires_it()
    {
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI("https://upstream.invalid/v1"));
        using (var created = await host.Client.PostAsync("api/v1/policies", new StringContent(
            "name: no-retention\nscope: global\nreason: prompts are never kept\nrules:\n  requireZeroRetention: true\n", Encoding.UTF8, "application/yaml")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }
        object WithRetention(string slug, bool zeroRetention) => new
        {
            slug,
            version = "1.0.0",
            name = "Retention test model",
            publisher = "acme",
            kind = "chat",
            deployments = new[] { new { provider = "acme-cloud", upstreamModel = "tiny-1", baseUrl = "https://models.example.com/v1" } },
            compliance = new { zeroRetention },
        };

        var (status, body) = await SendAsync(host.Client.PostAsJsonAsync("api/v1/services", WithRetention("retention-refused", false)));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(body.GetProperty("errors").GetProperty("policy").EnumerateArray(),
            static r => r.GetString()!.Contains("zero data retention", StringComparison.Ordinal) && r.GetString()!.Contains("prompts are never kept", StringComparison.Ordinal));

        var (okStatus, okBody) = await SendAsync(host.Client.PostAsJsonAsync("api/v1/services", WithRetention("retention-kept-out", true)));
        Assert.True(okStatus == HttpStatusCode.Created, okBody.ToString());
    }
}
