namespace LlmMarketplace.Insights.Tests.Analytics;

/// <summary>Replicas sharing one database roll up every record exactly once; a restarted host picks up where it stopped.</summary>
public sealed class ReplicaTests
{
    private const string Range = "from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";

    [Theory]
    [OnEachStorage]
    public async Task Two_replicas_and_a_restart_count_every_record_once(string storage)
    {
        await using var db = await TestStorage.CreateAsync(storage);
        await using var upstream = await UpstreamAsync();
        var config = Configs.OpenAI(upstream.BaseUrl + "/v1");
        db.Overrides["Insights:RollupInterval"] = "00:00:00.020";

        await using (var a = await GatewayHost.StartAsync(config, db.Overrides))
        {
            await using var b = await GatewayHost.StartAsync(config, db.Overrides);
            // Both replicas take calls at once; both roll up from the same cursor.
            await Task.WhenAll(
                Task.Run(async () => { for (var i = 0; i < 30; i++) await ChatAsync(a.Client); }),
                Task.Run(async () => { for (var i = 0; i < 30; i++) await ChatAsync(b.Client); }));
            var records = await UsageAsync(a);
            Assert.Equal(60, records.Count);
            await UntilAsync(() => GetJsonAsync(a.Client, $"api/v1/analytics/summary?percentiles=false&{Range}"),
                s => s.GetProperty("data")[0].GetProperty("requests").GetInt64() == 60, "60 records rolled up");
            var fromB = await GetJsonAsync(b.Client, $"api/v1/analytics/summary?percentiles=false&{Range}");
            Assert.Equal(60, fromB.GetProperty("data")[0].GetProperty("requests").GetInt64());
            Assert.Equal(records.Sum(static r => r.GetProperty("promptTokens").GetInt64()), fromB.GetProperty("data")[0].GetProperty("promptTokens").GetInt64());
        }

        // A new host on the same storage: earlier records are not counted again, new ones are added.
        await using var c = await GatewayHost.StartAsync(config, db.Overrides);
        for (var i = 0; i < 5; i++) await ChatAsync(c.Client);
        await UntilAsync(() => GetJsonAsync(c.Client, $"api/v1/analytics/summary?percentiles=false&{Range}"),
            s => s.GetProperty("data")[0].GetProperty("requests").GetInt64() >= 65, "65 records rolled up");
        var final = await GetJsonAsync(c.Client, $"api/v1/analytics/summary?percentiles=false&{Range}");
        Assert.Equal(65, final.GetProperty("data")[0].GetProperty("requests").GetInt64());
    }
}
