using LlmMarketplace.Gateway.Tests.Clients;

namespace LlmMarketplace.Gateway.Tests.Protocols;

/// <summary>
/// Every API is governed like chat: one key's request limit counts chat, responses, messages and embeddings together
/// and refuses in the API's own envelope, and every API leaves a usage record with tokens, cost and its name.
/// </summary>
public sealed class AllApisGovernanceTests(OpenAIFakeGatewayFixture fixture) : IClassFixture<OpenAIFakeGatewayFixture>
{
    private static readonly string[] Apis = ["chat", "responses", "messages", "embeddings"];

    private async Task<(string Id, string Key)> CreateKeyAsync(object body)
    {
        using var response = await fixture.Host.Client.PostAsJsonAsync("api/v1/keys", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST /api/v1/keys answered {(int)response.StatusCode}: {text}");
        var json = JsonDocument.Parse(text).RootElement;
        return (json.GetProperty("id").GetString()!, json.GetProperty("key").GetString()!);
    }

    /// <summary>One call of <paramref name="api"/> with <paramref name="key"/> (x-api-key on messages, as Anthropic's clients send it).</summary>
    private async Task<HttpResponseMessage> CallAsync(string api, string key)
    {
        var (path, body) = api switch
        {
            "chat" => ("v1/chat/completions", """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}"""),
            "responses" => ("v1/responses", """{"model":"gpt-4o-mini","input":"Say hello","store":false}"""),
            "messages" => ("v1/messages", """{"model":"gpt-4o-mini","max_tokens":20,"messages":[{"role":"user","content":"Say hello"}]}"""),
            _ => ("v1/embeddings", """{"model":"text-embedding-3-small","input":"Say hello"}"""),
        };
        using var client = new HttpClient { BaseAddress = fixture.Host.BaseAddress };
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (api == "messages")
        {
            request.Headers.Add("x-api-key", key);
            request.Headers.Add("anthropic-version", "2023-06-01");
        }
        else
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        }
        return await client.SendAsync(request);
    }

    [Theory]
    [InlineData("chat")]
    [InlineData("responses")]
    [InlineData("messages")]
    [InlineData("embeddings")]
    public async Task A_key_limited_to_3_requests_a_minute_is_refused_on_its_fourth_call_whichever_api_it_uses(string fourth)
    {
        var (_, key) = await CreateKeyAsync(new { name = "rpm3-" + fourth, rpm = 3, tpm = 1_000_000 });
        foreach (var api in Apis.Where(a => a != fourth))
        {
            using var ok = await CallAsync(api, key);
            Assert.True(ok.StatusCode == HttpStatusCode.OK, $"{api} answered {(int)ok.StatusCode}: {await ok.Content.ReadAsStringAsync()}");
        }

        using var refused = await CallAsync(fourth, key);
        var text = await refused.Content.ReadAsStringAsync();
        Assert.True(refused.StatusCode == HttpStatusCode.TooManyRequests, $"{fourth} answered {(int)refused.StatusCode}: {text}");
        Assert.Equal("application/json", refused.Content.Headers.ContentType?.MediaType);
        var retryAfter = int.Parse(string.Join(",", refused.Headers.GetValues("retry-after")), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 60);
        var root = JsonDocument.Parse(text).RootElement;
        if (fourth == "messages")
        {
            Assert.Equal(["type", "error"], root.EnumerateObject().Select(static p => p.Name).ToArray());
            Assert.Equal("rate_limit_error", root.GetProperty("error").GetProperty("type").GetString());
            Assert.False(string.IsNullOrWhiteSpace(root.GetProperty("error").GetProperty("message").GetString()));
        }
        else
        {
            var error = root.GetProperty("error");
            Assert.Equal(["message", "type", "param", "code"], error.EnumerateObject().Select(static p => p.Name).ToArray());
            Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task Every_api_leaves_a_usage_record_with_tokens_cost_and_its_name()
    {
        var (id, key) = await CreateKeyAsync(new { name = "usage-all-apis" });
        foreach (var api in Apis)
        {
            using var ok = await CallAsync(api, key);
            Assert.True(ok.StatusCode == HttpStatusCode.OK, $"{api} answered {(int)ok.StatusCode}: {await ok.Content.ReadAsStringAsync()}");
        }

        JsonElement[] records = [];
        await Wait.UntilAsync(async () =>
        {
            var page = JsonDocument.Parse(await fixture.Host.Client.GetStringAsync($"api/v1/usage?keyId={id}&limit=100")).RootElement;
            records = page.GetProperty("data").EnumerateArray().Select(static r => r.Clone()).ToArray();
            return records.Length >= Apis.Length;
        }, TimeSpan.FromSeconds(20), "a usage record for every API");

        Assert.Equal(Apis.Order(), records.Select(static r => r.GetProperty("operation").GetString()!).Order());
        foreach (var record in records)
        {
            var operation = record.GetProperty("operation").GetString();
            Assert.Equal(200, record.GetProperty("status").GetInt32());
            Assert.True(record.GetProperty("promptTokens").GetInt64() > 0, $"{operation} recorded no prompt tokens");
            Assert.True(record.GetProperty("costUsd").GetDecimal() > 0, $"{operation} recorded no cost");
            if (operation != "embeddings") Assert.Equal(3, record.GetProperty("completionTokens").GetInt64());
        }
    }
}
