using Dapper;
using Microsoft.Extensions.DependencyInjection;
using LlmMarketplace.Insights.Statements;
using LlmMarketplace.Insights.Storage;

namespace LlmMarketplace.Insights.Tests.Statements;

/// <summary>
/// Month end: two replicas on one database close last month's statements, and each team's <c>statement.closed</c>
/// event goes out through the events outbox exactly once. Publishers read their listings' revenue per plan.
/// </summary>
public sealed class StatementClosingTests
{
    private const string Secret = "test-secret-0123456789abcdef";

    /// <summary>The real clock moved by <see cref="Offset"/> (timers keep real time): lets a test reach the next month.</summary>
    private sealed class ShiftedClock : TimeProvider
    {
        public TimeSpan Offset { get; set; }

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Offset;
    }

    [Theory]
    [OnEachStorage]
    public async Task At_month_end_each_teams_statement_is_closed_once_across_replicas(string storage)
    {
        await using var db = await TestStorage.CreateAsync(storage);
        db.Overrides["Insights:StatementCloseInterval"] = "1.00:00:00";
        db.Overrides["Access:RefreshInterval"] = "00:00:00.200";
        db.Overrides["Insights:Webhooks:PollInterval"] = "00:00:00.050";
        db.Overrides["Insights:Webhooks:AllowLoopback"] = "true"; // the receiver listens on loopback
        db.Overrides["Insights:Events:BatchDelay"] = "00:00:00.100";
        await using var receiver = await WebhookReceiver.StartAsync(Secret, failFirst: 0);
        await using var upstream = await StatementTests.FixedUsageUpstreamAsync();
        var config = StatementTests.PricedConfig(upstream.BaseUrl + "/v1");
        var clockA = new ShiftedClock();
        var clockB = new ShiftedClock();
        await using var a = await GatewayHost.StartAsync(config, db.Overrides, services => services.AddSingleton<TimeProvider>(clockA));
        await using var b = await GatewayHost.StartAsync(config, db.Overrides, services => services.AddSingleton<TimeProvider>(clockB));
        await PostJsonAsync(a.Client, "api/v1/alerts/webhooks", new { url = receiver.Url, kinds = new[] { "events" }, secret = Secret });

        var (billed, _, subscribedAt) = await StatementTests.SubscribedTeamWithCallsAsync(a, "closing");
        var (idle, _, _) = await TeamWithKeyAsync(a, "idle");
        var month = subscribedAt.UtcDateTime.ToString("yyyy-MM", CultureInfo.InvariantCulture);
        var (_, _, subscriptions, usage) = StatementTests.Expected(subscribedAt);

        // Both replicas reach the first minute of the next month and race to close it, twice each.
        var nextMonth = new DateTimeOffset(subscribedAt.UtcDateTime.Year, subscribedAt.UtcDateTime.Month, 1, 0, 1, 0, TimeSpan.Zero).AddMonths(1);
        clockA.Offset = clockB.Offset = nextMonth - DateTimeOffset.UtcNow;
        foreach (var team in new[] { billed, idle })
        {
            await Wait.UntilAsync(async () => (await b.Client.GetAsync($"api/v1/statements?team={team}")).StatusCode == HttpStatusCode.OK,
                TimeSpan.FromSeconds(30), "the second replica to know the team");
        }
        var closers = new[] { a.Service<StatementCloser>(), b.Service<StatementCloser>() };
        var closed = await Task.WhenAll(closers.Concat(closers).Select(static c => c.RunOnceAsync(CancellationToken.None)));
        Assert.Equal(2, closed.Sum());

        await Wait.UntilAsync(() => ClosedEvents(receiver).Select(static e => e.GetProperty("data").GetProperty("team").GetString()).Distinct().Count() == 2,
            TimeSpan.FromSeconds(30), "a statement.closed event for each team");
        var evt = Assert.Single(ClosedEvents(receiver), e => e.GetProperty("data").GetProperty("team").GetString() == billed);
        var data = evt.GetProperty("data");
        Assert.Equal(month, data.GetProperty("month").GetString());
        Assert.Equal("USD", data.GetProperty("currency").GetString());
        Assert.Equal(subscriptions + usage, data.GetProperty("totalUsd").GetDecimal());
        Assert.Equal(0m, Assert.Single(ClosedEvents(receiver), e => e.GetProperty("data").GetProperty("team").GetString() == idle).GetProperty("data").GetProperty("totalUsd").GetDecimal());

        // Closed for good: more runs add nothing, and the log holds one event per team and month.
        Assert.Equal(0, (await Task.WhenAll(closers.Select(static c => c.RunOnceAsync(CancellationToken.None)))).Sum());
        await using (var connection = await a.Service<InsightsStore>().OpenAsync())
        {
            Assert.Equal(2, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM insights_events WHERE type = 'statement.closed'"));
        }
        var statement = await GetJsonAsync(a.Client, $"api/v1/statements?team={billed}&month={month}");
        Assert.True(statement.GetProperty("closed").GetBoolean());
        Assert.Equal(subscriptions + usage, statement.GetProperty("totals").GetProperty("totalUsd").GetDecimal());
    }

    [Theory]
    [OnEachStorage]
    public async Task A_publisher_reads_its_listings_revenue_per_plan_and_usage(string storage)
    {
        await using var db = await TestStorage.CreateAsync(storage);
        db.Overrides["Catalog:AllowLoopbackEndpoints"] = "true";
        await using var upstream = await StatementTests.FixedUsageUpstreamAsync();
        await using var host = await GatewayHost.StartAsync(StatementTests.PricedConfig(upstream.BaseUrl + "/v1"), db.Overrides);
        var (publisherTeam, _, publisherKey) = await TeamWithKeyAsync(host, "publisher");
        var (consumerTeam, _, consumerKey) = await TeamWithKeyAsync(host, "consumer");
        using var publisher = ClientWithKey(host, publisherKey);
        using var consumer = ClientWithKey(host, consumerKey);

        const decimal input = 40m, output = 120m, price = 31m;
        var slug = "acme/billed-" + Guid.NewGuid().ToString("N")[..8];
        var created = await PostJsonAsync(host.Client, "api/v1/services", new
        {
            slug,
            version = "1.0.0",
            name = "Billed Chat",
            description = "A chat model whose publisher reads its revenue.",
            publisher = publisherTeam,
            category = "text-generation",
            kind = "chat",
            contextLength = 8192,
            pricing = new { inputPerMTok = input, outputPerMTok = output },
            deployments = new[] { new { provider = "acme-cloud", upstreamModel = "tiny-1", baseUrl = upstream.BaseUrl + "/v1", region = "eu-west" } },
        });
        var submitted = await PostJsonAsync(host.Client, $"api/v1/services/{created.GetProperty("id").GetString()}/versions/1.0.0/submit", new { }, HttpStatusCode.OK);
        await PostJsonAsync(host.Client, $"api/v1/approvals/{submitted.GetProperty("id").GetString()}/approve", new { reason = "ok" }, HttpStatusCode.OK);
        await UntilAsync(() => GetJsonAsync(consumer, "v1/models"), m => m.GetProperty("data").EnumerateArray().Any(x => x.GetProperty("id").GetString() == slug),
            "the listing to be routable");

        // The consumer's app subscribes to the listing's plan and calls it three times.
        var plan = await PostJsonAsync(host.Client, "api/v1/plans", new { name = "team", model = slug, priceUsd = price });
        var app = await PostJsonAsync(host.Client, "api/v1/apps", new { name = "consumer-app", team = consumerTeam });
        var sub = await PostJsonAsync(host.Client, "api/v1/subscriptions", new { app = app.GetProperty("id").GetString(), plan = plan.GetProperty("id").GetString() });
        var appKey = await PostJsonAsync(host.Client, "api/v1/keys", new { name = "app-key", app = app.GetProperty("id").GetString(), direct = false });
        using (var appClient = ClientWithKey(host, appKey.GetProperty("key").GetString()!))
        {
            for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.OK, await ChatAsync(appClient, slug));
        }

        var subscribedAt = sub.GetProperty("createdAt").GetDateTimeOffset().UtcDateTime;
        var month = subscribedAt.ToString("yyyy-MM", CultureInfo.InvariantCulture);
        var days = DateTime.DaysInMonth(subscribedAt.Year, subscribedAt.Month);
        var fee = Math.Round(price * (days - subscribedAt.Day + 1) / days, 2, MidpointRounding.ToEven);
        var usage = Math.Round(3 * (1234 * input + 567 * output) / 1_000_000m, 2, MidpointRounding.ToEven);

        var revenue = await GetJsonAsync(publisher, $"api/v1/statements/publisher?month={month}");
        Assert.Equal(publisherTeam, revenue.GetProperty("team").GetString());
        Assert.Equal("USD", revenue.GetProperty("currency").GetString());
        var listing = Assert.Single(revenue.GetProperty("listings").EnumerateArray());
        Assert.Equal(slug, listing.GetProperty("listing").GetString());
        Assert.Equal(3, listing.GetProperty("requests").GetInt64());
        Assert.Equal(usage, listing.GetProperty("usageUsd").GetDecimal());
        var planRevenue = Assert.Single(listing.GetProperty("plans").EnumerateArray());
        Assert.Equal(1, planRevenue.GetProperty("subscriptions").GetInt32());
        Assert.Equal(fee, listing.GetProperty("subscriptionsUsd").GetDecimal());
        Assert.Equal(fee + usage, revenue.GetProperty("totalUsd").GetDecimal());

        // The consumer's own statement charges the same listing's usage; it reads no revenue of the publisher's.
        var consumed = await GetJsonAsync(consumer, $"api/v1/statements?month={month}");
        Assert.Equal(usage, consumed.GetProperty("totals").GetProperty("usageUsd").GetDecimal());
        Assert.Empty((await GetJsonAsync(consumer, $"api/v1/statements/publisher?month={month}")).GetProperty("listings").EnumerateArray());
    }

    private static List<JsonElement> ClosedEvents(WebhookReceiver receiver) =>
        [.. receiver.Events.Where(static e => e.GetProperty("type").GetString() == StatementCloser.EventType)];
}
