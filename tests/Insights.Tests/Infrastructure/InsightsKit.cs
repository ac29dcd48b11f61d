namespace LlmMarketplace.Insights.Tests.Infrastructure;

/// <summary>Calls through the real host: teams, keys, chat calls, usage and analytics.</summary>
public static class InsightsKit
{
    /// <summary>The prompt that makes <see cref="UpstreamAsync"/> fail with a 500, on every attempt.</summary>
    public const string FailingPrompt = "please-fail";

    /// <summary>An OpenAI-compatible upstream: fails with a 500 when the prompt is <see cref="FailingPrompt"/>, else reports usage that varies with n.</summary>
    public static Task<FakeUpstream> UpstreamAsync() => FakeUpstream.StartAsync(async (context, n) =>
    {
        if (FakeUpstream.Received(context).Body.Contains(FailingPrompt, StringComparison.Ordinal))
        {
            await FakeUpstream.Json(context, """{"error":{"message":"boom","type":"server_error","param":null,"code":null}}""", 500);
            return;
        }
        var prompt = 10 + (n % 13);
        var completion = 5 + (n % 7);
        var usage = string.Create(CultureInfo.InvariantCulture, $$"""{"prompt_tokens":{{prompt}},"completion_tokens":{{completion}},"total_tokens":{{prompt + completion}}}""");
        await FakeUpstream.Json(context, """{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":""" + usage + "}");
    });

    public static async Task<JsonElement> PostJsonAsync(HttpClient client, string path, object body, HttpStatusCode expected = HttpStatusCode.Created)
    {
        using var response = await client.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"POST {path} answered {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    public static async Task<JsonElement> GetJsonAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path} answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Creates a team and a key in it; returns (team id, key id, key secret).</summary>
    public static async Task<(string TeamId, string KeyId, string Key)> TeamWithKeyAsync(GatewayHost host, string name)
    {
        var team = await PostJsonAsync(host.Client, "api/v1/teams", new { name = name + "-" + Guid.NewGuid().ToString("N")[..8] });
        var teamId = team.GetProperty("id").GetString()!;
        var key = await PostJsonAsync(host.Client, "api/v1/keys", new { name = name + "-key", team = teamId });
        return (teamId, key.GetProperty("id").GetString()!, key.GetProperty("key").GetString()!);
    }

    public static HttpClient ClientWithKey(GatewayHost host, string key)
    {
        var client = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public static async Task<HttpStatusCode> ChatAsync(HttpClient client, string model = "gpt-4o-mini", string prompt = "hello")
    {
        using var content = new StringContent($$"""{"model":"{{model}}","messages":[{"role":"user","content":"{{prompt}}"}]}""", Encoding.UTF8, "application/json");
        using var response = await client.PostAsync("v1/chat/completions", content);
        await response.Content.ReadAsStringAsync();
        return response.StatusCode;
    }

    /// <summary>Every usage record the host holds (as the master key sees them).</summary>
    public static async Task<List<JsonElement>> UsageAsync(GatewayHost host)
    {
        var page = await GetJsonAsync(host.Client, "api/v1/usage?limit=10000");
        return [.. page.GetProperty("data").EnumerateArray()];
    }

    /// <summary>Polls until a condition on a JSON answer holds, with a deadline.</summary>
    public static Task<JsonElement> UntilAsync(Func<Task<JsonElement>> read, Func<JsonElement, bool> condition, string what, int seconds = 30) =>
        Wait.UntilAsync(read, condition, TimeSpan.FromSeconds(seconds), what);
}
