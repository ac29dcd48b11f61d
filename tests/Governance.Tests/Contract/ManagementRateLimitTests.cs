namespace LlmMarketplace.Governance.Tests.Contract;

/// <summary>Expensive management operations are limited per caller: 429 problem details with Retry-After, other callers unaffected.</summary>
public sealed class ManagementRateLimitTests
{
    [Fact]
    public async Task A_caller_over_its_limit_gets_429_with_retry_after_and_others_go_on()
    {
        await using var host = await Gov.StartAsync(overrides: new Dictionary<string, string?>
        {
            ["Management:RateLimits:Analytics:PermitLimit"] = "2",
            ["Management:RateLimits:Analytics:WindowSeconds"] = "3600",
        });
        for (var i = 0; i < 2; i++)
        {
            using var ok = await host.Client.GetAsync("api/v1/audit?limit=1");
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }
        // The same limit covers the other operations of its kind.
        using var limited = await host.Client.GetAsync("api/v1/usage?limit=1");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        var retryAfter = int.Parse(Assert.Single(limited.Headers.GetValues("Retry-After")), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 3600);
        var problem = JsonDocument.Parse(await limited.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(429, problem.GetProperty("status").GetInt32());

        // Operations that are not expensive are not limited, and another caller has its own allowance.
        using (var cheap = await host.Client.GetAsync("api/v1/keys")) Assert.Equal(HttpStatusCode.OK, cheap.StatusCode);
        using var admin = await Gov.ClientForRoleAsync(host, Roles.Admin);
        using (var other = await admin.GetAsync("api/v1/audit?limit=1")) Assert.Equal(HttpStatusCode.OK, other.StatusCode);
    }

    [Fact]
    public async Task A_limit_that_cannot_work_fails_the_start_naming_the_setting()
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => Gov.StartAsync(overrides: new Dictionary<string, string?>
        {
            ["Management:RateLimits:Search:PermitLimit"] = "0",
        }));
        Assert.Contains("Management:RateLimits:Search:PermitLimit", ex.ToString());
    }
}
