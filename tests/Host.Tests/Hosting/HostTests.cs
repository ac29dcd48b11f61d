using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Host.Tests.Hosting;

/// <summary>Health, metrics and the OpenAPI document of the real host.</summary>
public sealed class HostTests : UpstreamHostTests
{
    protected override Task AnswerAsync(HttpContext ctx, int _) => FakeUpstream.Json(ctx, Configs.Completion);

    protected override string HostConfig(string upstreamBaseUrl) => Configs.OpenAI(upstreamBaseUrl + "/v1");

    [Fact]
    public async Task Health_endpoints_answer_without_authentication()
    {
        using var anonymous = new HttpClient { BaseAddress = Host.BaseAddress };
        using var live = await anonymous.GetAsync("health/live");
        using var ready = await anonymous.GetAsync("health/ready");

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Metrics_need_a_credential_and_carry_genai_token_usage()
    {
        using var chat = await Host.Client.PostAsync("v1/chat/completions",
            new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}""", System.Text.Encoding.UTF8, "application/json"));
        chat.EnsureSuccessStatusCode();

        using var anonymous = new HttpClient { BaseAddress = Host.BaseAddress };
        using var refused = await anonymous.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);

        string text = "";
        await Wait.UntilAsync(() =>
        {
            text = Host.Client.GetStringAsync("metrics").GetAwaiter().GetResult();
            return text.Contains("gen_ai_client_token_usage", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(20), "token usage in /metrics");
        Assert.Contains("gen_ai_client_operation_duration_seconds", text, StringComparison.Ordinal);
        Assert.Contains("gateway_circuit_state", text, StringComparison.Ordinal);
        Assert.Contains("gen_ai_request_model=\"gpt-4o-mini\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_name_the_service_and_its_version_and_leave_out_the_portals_internals()
    {
        using var anonymous = new HttpClient { BaseAddress = Host.BaseAddress };
        for (var i = 0; i < 3; i++)
        {
            using var page = await anonymous.GetAsync("login");
            page.EnsureSuccessStatusCode();
        }

        var text = await Host.Client.GetStringAsync("metrics");

        var target = text.Split('\n').Single(static l => l.StartsWith("target_info{", StringComparison.Ordinal));
        Assert.Contains("service_name=\"llm-marketplace\"", target, StringComparison.Ordinal);
        Assert.Matches("service_version=\"\\d+\\.\\d+\\.\\d+", target);
        Assert.DoesNotContain("aspnetcore_components_", text, StringComparison.Ordinal);
        Assert.Contains("http_server_request_duration_seconds", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_openapi_document_lists_every_endpoint()
    {
        using var anonymous = new HttpClient { BaseAddress = Host.BaseAddress };
        var json = JsonDocument.Parse(await anonymous.GetStringAsync("openapi/v1.json")).RootElement;
        var paths = json.GetProperty("paths").EnumerateObject().Select(static p => p.Name).ToList();

        Assert.Contains("/v1/chat/completions", paths);
        Assert.Contains("/v1/embeddings", paths);
        Assert.Contains("/v1/models", paths);
        Assert.Contains("/v1/models/{id}", paths);
        Assert.Contains("/api/v1/gateway/deployments", paths);
    }

    [Fact]
    public async Task Management_endpoints_refuse_anonymous_callers_with_problem_details()
    {
        using var anonymous = new HttpClient { BaseAddress = Host.BaseAddress };
        using var response = await anonymous.GetAsync("api/v1/gateway/deployments");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_admin_sees_deployment_health()
    {
        var json = JsonDocument.Parse(await Host.Client.GetStringAsync("api/v1/gateway/deployments")).RootElement;
        var row = json.GetProperty("data").EnumerateArray().First(r => r.GetProperty("model").GetString() == "gpt-4o-mini");

        Assert.Equal("upstream/gpt-4", row.GetProperty("deployment").GetString());
        Assert.Equal("closed", row.GetProperty("circuit").GetString());
    }
}
