namespace LlmMarketplace.Insights.Tests;

public sealed class InsightsModuleTests
{
    [Fact]
    public async Task The_host_starts_with_the_insights_module_and_is_ready()
    {
        await using var host = await GatewayHost.StartAsync("Providers: []\nModels: []\n");
        using var response = await host.Client.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }
}
