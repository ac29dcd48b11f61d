using System.Globalization;

namespace LlmMarketplace.Access.Tests.Metering;

/// <summary>Cached input billed at its own rate, reasoning as output, a per-request fee: in the header, the stream's usage chunk and the usage record.</summary>
public sealed class CostTests
{
    // Prices per 1M tokens: input 1, output 2, cached input 0.5; plus 0.001 per request.
    private const decimal PerRequest = 0.001m;

    public static TheoryData<bool> Streams => new() { false, true };

    [Theory]
    [MemberData(nameof(Streams))]
    public async Task OpenAI_usage_with_cached_and_reasoning_tokens_is_billed_exactly(bool stream)
    {
        await using var upstream = await OpenAIUpstreamAsync(new Usage(Prompt: 1000, Completion: 500, Cached: 400, Reasoning: 200));
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl + "/v1", perRequest: PerRequest));
        // 600 uncached × 1 + 400 cached × 0.5 + 500 output (reasoning included) × 2, per 1M, plus the fee.
        var expected = ((600m * 1) + (400m * 0.5m) + (500m * 2)) / 1_000_000m + PerRequest;
        await AssertBilledAsync(host, stream, expected, prompt: 1000, completion: 500, cached: 400, reasoning: 200);
    }

    [Theory]
    [MemberData(nameof(Streams))]
    public async Task Anthropic_usage_with_cache_reads_and_writes_is_billed_exactly(bool stream)
    {
        await using var upstream = await AnthropicUpstreamAsync(input: 300, cacheRead: 400, cacheWrite: 100, output: 500);
        await using var host = await GatewayHost.StartAsync(Config(upstream.BaseUrl + "/v1", type: "anthropic", perRequest: PerRequest));
        // Anthropic's input_tokens exclude the cache: 300 × 1 + 400 cache reads × 0.5 + 100 cache writes × 1 (input rate) + 500 × 2.
        var expected = ((300m * 1) + (400m * 0.5m) + (100m * 1) + (500m * 2)) / 1_000_000m + PerRequest;
        await AssertBilledAsync(host, stream, expected, prompt: 800, completion: 500, cached: 400, reasoning: 0);
    }

    private static async Task AssertBilledAsync(GatewayHost host, bool stream, decimal expected, long prompt, long completion, long cached, long reasoning)
    {
        var key = await CreateKeyAsync(host, new { name = "billing" });
        using var client = ClientWithKey(host, key.GetProperty("key").GetString()!);
        var requestId = "req-" + Guid.NewGuid().ToString("N");
        using var response = await ChatAsync(client, stream: stream, requestId: requestId);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        if (!stream)
        {
            Assert.Equal(expected, decimal.Parse(Header(response, "x-gateway-cost"), CultureInfo.InvariantCulture));
        }
        else
        {
            // Headers leave before the cost is known: a stream carries it in its final usage chunk.
            var usageChunk = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
                .Select(static e => e.StartsWith("data: ", StringComparison.Ordinal) ? e[6..] : "")
                .Where(static d => d.StartsWith('{'))
                .Select(static d => JsonDocument.Parse(d).RootElement)
                .Last(static c => c.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object);
            var usage = usageChunk.GetProperty("usage");
            Assert.Equal(expected, usage.GetProperty("cost").GetDecimal());
            Assert.Equal(prompt, usage.GetProperty("prompt_tokens").GetInt64());
            Assert.Equal(cached, usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt64());
        }

        var records = await UsageOfKeyAsync(host, key.GetProperty("id").GetString()!);
        var record = Assert.Single(records);
        Assert.Equal(requestId, record.GetProperty("requestId").GetString());
        Assert.Equal(expected, record.GetProperty("costUsd").GetDecimal());
        Assert.Equal(prompt, record.GetProperty("promptTokens").GetInt64());
        Assert.Equal(completion, record.GetProperty("completionTokens").GetInt64());
        Assert.Equal(cached, record.GetProperty("cachedTokens").GetInt64());
        Assert.Equal(reasoning, record.GetProperty("reasoningTokens").GetInt64());
        Assert.Equal(200, record.GetProperty("status").GetInt32());
        Assert.Equal(stream, record.GetProperty("stream").GetBoolean());
        Assert.Equal("upstream", record.GetProperty("provider").GetString());
    }
}
