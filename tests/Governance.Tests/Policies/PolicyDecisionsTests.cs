using LlmMarketplace.Governance.Contracts;

namespace LlmMarketplace.Governance.Tests.Policies;

/// <summary>The read-only policy view other modules use: listing compliance for the catalog, PII handling and block lists for the shield.</summary>
public sealed class PolicyDecisionsTests
{
    private static async Task CreateAsync(GatewayHost host, string yaml)
    {
        using var response = await host.Client.PostAsync("api/v1/policies", new StringContent(yaml, Encoding.UTF8, "application/yaml"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task A_listing_must_carry_the_required_certifications_and_be_deployed_in_an_allowed_region()
    {
        await using var host = await Gov.StartAsync();
        await CreateAsync(host, "name: compliance\nscope: global\nreason: vendor policy 7\nrules:\n  requiredCertifications: [soc2, iso27001]\n  regions: {allow: [eu-west-1]}\n  providers: {deny: [shady]}\n");
        var decisions = host.Service<IPolicyDecisions>();

        var compliant = decisions.EvaluateListing(new ListingFacts("good-model", "acme", ["eu-west-1", "us-east-1"], ["SOC2", "iso27001", "hipaa"]));
        Assert.True(compliant.Allowed, string.Join("; ", compliant.Reasons));

        var missing = decisions.EvaluateListing(new ListingFacts("weak-model", "shady", ["us-east-1"], ["soc2"]));
        Assert.False(missing.Allowed);
        Assert.Contains(missing.Reasons, static r => r.Contains("iso27001", StringComparison.Ordinal) && r.Contains("vendor policy 7", StringComparison.Ordinal));
        Assert.Contains(missing.Reasons, static r => r.Contains("eu-west-1", StringComparison.Ordinal));
        Assert.Contains(missing.Reasons, static r => r.Contains("shady", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_listing_must_declare_zero_retention_where_a_global_policy_requires_it()
    {
        await using var host = await Gov.StartAsync();
        await CreateAsync(host, "name: forgetful\nscope: global\nreason: no stored prompts\nrules:\n  requireZeroRetention: true\n");
        var decisions = host.Service<IPolicyDecisions>();

        var keeps = decisions.EvaluateListing(new ListingFacts("keeps-model", "acme", [], []));
        Assert.False(keeps.Allowed);
        Assert.Contains(keeps.Reasons, static r => r.Contains("zero data retention", StringComparison.Ordinal) && r.Contains("no stored prompts", StringComparison.Ordinal));
        Assert.True(decisions.EvaluateListing(new ListingFacts("forgets-model", "acme", [], []) { ZeroRetention = true }).Allowed);
    }

    [Fact]
    public async Task Pii_handling_is_the_strictest_of_the_callers_scopes_and_block_lists_are_merged()
    {
        await using var host = await Gov.StartAsync();
        await CreateAsync(host, "name: base\nscope: global\nrules:\n  pii: redact\n  content: {blockList: [project falcon]}\n");
        await CreateAsync(host, "name: strict-team\nscope: team\nteam: team-s\nrules:\n  pii: block\n  content: {blockList: [codename orca]}\n");
        var decisions = host.Service<IPolicyDecisions>();

        var other = decisions.Content(["team-x"], null);
        Assert.Equal(PiiHandling.Redact, other.Pii);
        Assert.Equal(["project falcon"], other.BlockedTerms);

        var strict = decisions.Content(["team-x", "team-s"], null);
        Assert.Equal(PiiHandling.Block, strict.Pii);
        Assert.Equal(["codename orca", "project falcon"], strict.BlockedTerms.Order(StringComparer.Ordinal).ToArray());
    }
}
