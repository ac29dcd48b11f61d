namespace LlmMarketplace.Access.Tests.Metering;

/// <summary>Keys, usage and budgets survive a restart on each storage: the directory and the budget counters reload from it.</summary>
public sealed class StorageTests
{
    [Theory]
    [OnEachStorage]
    public async Task Keys_usage_and_budget_spend_survive_a_restart(string provider)
    {
        await using var db = await TestStorage.CreateAsync(provider);
        await using var upstream = await OpenAIUpstreamAsync(new Usage(1000, 1000, Cached: 100, Reasoning: 50));
        var config = Config(upstream.BaseUrl + "/v1");

        string keyId, secret;
        await using (var first = await GatewayHost.StartAsync(config, db.Overrides))
        {
            // 0.00295 USD a call (100 cached tokens at half price): a 0.005 daily budget admits two.
            var key = await CreateKeyAsync(first, new { name = "durable", team = "storage-team", budgetUsd = 0.005, budgetPeriod = "daily", rpm = 1000 });
            keyId = key.GetProperty("id").GetString()!;
            secret = key.GetProperty("key").GetString()!;
            using var client = ClientWithKey(first, secret);
            using (var a = await ChatAsync(client)) Assert.Equal(HttpStatusCode.OK, a.StatusCode);
            using (var b = await ChatAsync(client, stream: true)) Assert.Equal(HttpStatusCode.OK, b.StatusCode);
            using (var c = await ChatAsync(client)) Assert.Equal(HttpStatusCode.TooManyRequests, c.StatusCode);
        }

        await using var second = await GatewayHost.StartAsync(config, db.Overrides);
        using (var client = ClientWithKey(second, secret))
        {
            // The key is known after the restart, and its spend this period too.
            using var refused = await ChatAsync(client);
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.Equal("insufficient_quota", (await ErrorAsync(refused)).GetProperty("code").GetString());
            using var free = await ChatAsync(client, "free-model");
            Assert.Equal(HttpStatusCode.OK, free.StatusCode);
        }
        var records = await UsageOfKeyAsync(second, keyId);
        // Oldest first: two answered, one refused before the restart; one refused and one free call after it.
        Assert.Equal([200, 200, 429, 429, 200], records.Select(static r => r.GetProperty("status").GetInt32()).Reverse().ToArray());
        var paid = records.Where(static r => r.GetProperty("status").GetInt32() == 200 && r.GetProperty("model").GetString() == "gpt-4o-mini").ToArray();
        Assert.Equal(2, paid.Length);
        Assert.All(paid, static r => Assert.Equal(0.00295m, r.GetProperty("costUsd").GetDecimal()));
        Assert.All(paid, static r => Assert.Equal(100, r.GetProperty("cachedTokens").GetInt64()));
        Assert.All(paid, static r => Assert.Equal(50, r.GetProperty("reasoningTokens").GetInt64()));

        var byApp = await GetJsonAsync(second.Client, $"api/v1/usage?keyId={keyId}&groupBy=model");
        var paidGroup = byApp.GetProperty("data").EnumerateArray().Single(static g => g.GetProperty("key").GetString() == "gpt-4o-mini");
        Assert.Equal(0.0059m, paidGroup.GetProperty("costUsd").GetDecimal());
    }
}
