namespace LlmMarketplace.Insights.Tests.Statements;

/// <summary>
/// A team's statement of the month from real calls through the gateway to a Kestrel upstream that reports known token
/// counts, a priced plan with a subscription and an admin's adjustment: exact to the cent, as JSON and as CSV, readable
/// by the team and admins only, on SQLite and PostgreSQL.
/// </summary>
public sealed class StatementTests
{
    // What the upstream reports per call, and the configured prices (USD per million tokens).
    private const long PromptTokens = 1234, CompletionTokens = 567;
    private const decimal InputPerMTok = 2.5m, OutputPerMTok = 10m, PlanPrice = 9.99m;
    private const int Calls = 7;

    public static string PricedConfig(string baseUrl) => $"""
        Providers:
          - Name: upstream
            Type: openai
            BaseUrl: {baseUrl}
        Models:
          - Name: priced-chat
            Deployments:
              - Provider: upstream
                Model: gpt-4
                InputPerMTok: {InputPerMTok.ToString(CultureInfo.InvariantCulture)}
                OutputPerMTok: {OutputPerMTok.ToString(CultureInfo.InvariantCulture)}
        """;

    public static Task<FakeUpstream> FixedUsageUpstreamAsync() => FakeUpstream.StartAsync(static async (context, _) =>
        await FakeUpstream.Json(context, "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-4\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":\"stop\"}],"
            + string.Create(CultureInfo.InvariantCulture, $"\"usage\":{{\"prompt_tokens\":{PromptTokens},\"completion_tokens\":{CompletionTokens},\"total_tokens\":{PromptTokens + CompletionTokens}}}}}")));

    /// <summary>A team with an app subscribed to a priced plan, whose app key made <see cref="Calls"/> calls.</summary>
    public static async Task<(string TeamId, string TeamKey, DateTimeOffset SubscribedAt)> SubscribedTeamWithCallsAsync(GatewayHost host, string name)
    {
        var (teamId, _, teamKey) = await TeamWithKeyAsync(host, name);
        var app = await PostJsonAsync(host.Client, "api/v1/apps", new { name = "billing-app", team = teamId });
        var appId = app.GetProperty("id").GetString()!;
        var plan = await PostJsonAsync(host.Client, "api/v1/plans", new { name = "pro-" + Guid.NewGuid().ToString("N")[..6], model = "priced-chat", priceUsd = PlanPrice });
        var sub = await PostJsonAsync(host.Client, "api/v1/subscriptions", new { app = appId, plan = plan.GetProperty("id").GetString() });
        Assert.Equal("active", sub.GetProperty("status").GetString());
        var appKey = await PostJsonAsync(host.Client, "api/v1/keys", new { name = "app-key", app = appId, direct = false });
        using var client = ClientWithKey(host, appKey.GetProperty("key").GetString()!);
        for (var i = 0; i < Calls; i++) Assert.Equal(HttpStatusCode.OK, await ChatAsync(client, "priced-chat"));
        return (teamId, teamKey, sub.GetProperty("createdAt").GetDateTimeOffset());
    }

    /// <summary>The expected statement figures, from the configured prices and the upstream's token counts alone.</summary>
    public static (decimal Fee, decimal UsageFull, decimal Subscriptions, decimal Usage) Expected(DateTimeOffset subscribedAt)
    {
        var utc = subscribedAt.UtcDateTime;
        var daysInMonth = DateTime.DaysInMonth(utc.Year, utc.Month);
        var fee = PlanPrice * (daysInMonth - utc.Day + 1) / daysInMonth;
        var usage = Calls * (PromptTokens * InputPerMTok + CompletionTokens * OutputPerMTok) / 1_000_000m;
        return (fee, usage, Math.Round(fee, 2, MidpointRounding.ToEven), Math.Round(usage, 2, MidpointRounding.ToEven));
    }

    [Theory]
    [OnEachStorage]
    public async Task A_statement_charges_the_prorated_plan_metered_usage_and_adjustments_exact_to_the_cent(string storage)
    {
        await using var db = await TestStorage.CreateAsync(storage);
        await using var upstream = await FixedUsageUpstreamAsync();
        await using var host = await GatewayHost.StartAsync(PricedConfig(upstream.BaseUrl + "/v1"), db.Overrides);
        var (teamId, teamKey, subscribedAt) = await SubscribedTeamWithCallsAsync(host, "billed");
        var month = subscribedAt.UtcDateTime.ToString("yyyy-MM", CultureInfo.InvariantCulture);

        var credit = await PostJsonAsync(host.Client, "api/v1/statements/adjustments", new { team = teamId, month, amountUsd = -1.25m, reason = "Outage credit" });
        Assert.Equal(-1.25m, credit.GetProperty("amountUsd").GetDecimal());
        var audit = await GetJsonAsync(host.Client, $"api/v1/audit?action=statement.adjusted&targetId={credit.GetProperty("id").GetString()}");
        var entry = Assert.Single(audit.GetProperty("data").EnumerateArray());
        Assert.Equal("master-key", entry.GetProperty("actorId").GetString());
        Assert.Equal("Outage credit", entry.GetProperty("after").GetProperty("reason").GetString());

        var (fee, usageFull, subscriptions, usage) = Expected(subscribedAt);
        Assert.True(usage > 0.05m, "the usage should be worth cents");
        using var member = ClientWithKey(host, teamKey);
        // Usage is written durably before each answer completes: the statement sees every call at once.
        var statement = await GetJsonAsync(member, $"api/v1/statements?team={teamId}&month={month}");
        Assert.Equal("USD", statement.GetProperty("currency").GetString());
        Assert.Equal(month, statement.GetProperty("month").GetString());
        Assert.False(statement.GetProperty("closed").GetBoolean());
        var line = Assert.Single(statement.GetProperty("subscriptions").EnumerateArray());
        Assert.Equal(fee, line.GetProperty("amountUsd").GetDecimal());
        Assert.Equal(PlanPrice, line.GetProperty("monthlyPriceUsd").GetDecimal());
        var used = Assert.Single(statement.GetProperty("usage").EnumerateArray());
        Assert.Equal("priced-chat", used.GetProperty("model").GetString());
        Assert.Equal(Calls, used.GetProperty("requests").GetInt64());
        Assert.Equal(Calls * PromptTokens, used.GetProperty("promptTokens").GetInt64());
        Assert.Equal(Calls * CompletionTokens, used.GetProperty("completionTokens").GetInt64());
        Assert.Equal(usageFull, Math.Round(used.GetProperty("amountUsd").GetDecimal(), 12));
        var totals = statement.GetProperty("totals");
        Assert.Equal(subscriptions, totals.GetProperty("subscriptionsUsd").GetDecimal());
        Assert.Equal(usage, totals.GetProperty("usageUsd").GetDecimal());
        Assert.Equal(-1.25m, totals.GetProperty("adjustmentsUsd").GetDecimal());
        Assert.Equal(subscriptions + usage - 1.25m, totals.GetProperty("totalUsd").GetDecimal());

        // The same statement as CSV, by query and by Accept header.
        foreach (var asCsv in new Func<Task<HttpResponseMessage>>[]
        {
            () => member.GetAsync($"api/v1/statements?team={teamId}&month={month}&format=csv"),
            () => member.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"api/v1/statements?team={teamId}&month={month}") { Headers = { { "Accept", "text/csv" } } }),
        })
        {
            using var response = await asCsv();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
            var rows = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(CsvFields).ToList();
            Assert.Equal("team,month,currency,section,item,description,quantity,amount", string.Join(',', rows[0]));
            Assert.All(rows.Skip(1), r => Assert.Equal([teamId, month, "USD"], r[..3]));
            Assert.Equal(fee, decimal.Parse(rows.Single(r => r[3] == "subscription")[7], CultureInfo.InvariantCulture));
            var csvUsage = rows.Single(r => r[3] == "usage");
            Assert.Equal("priced-chat", csvUsage[4]);
            Assert.Equal(Calls.ToString(CultureInfo.InvariantCulture), csvUsage[6]);
            Assert.Equal(["adjustment", credit.GetProperty("id").GetString()!, "Outage credit", "", "-1.25"], rows.Single(r => r[3] == "adjustment")[3..]);
            Assert.Equal((subscriptions + usage - 1.25m).ToString(CultureInfo.InvariantCulture), rows.Single(r => r[3] == "total" && r[4] == "total")[7]);
            Assert.Equal(usage.ToString(CultureInfo.InvariantCulture), rows.Single(r => r[3] == "total" && r[4] == "usage")[7]);
        }

        // The month before: nothing yet.
        var before = subscribedAt.UtcDateTime.AddMonths(-1).ToString("yyyy-MM", CultureInfo.InvariantCulture);
        var empty = await GetJsonAsync(host.Client, $"api/v1/statements?team={teamId}&month={before}");
        Assert.Equal(0m, empty.GetProperty("totals").GetProperty("totalUsd").GetDecimal());
        Assert.True(empty.GetProperty("closed").GetBoolean());
    }

    [Theory]
    [OnEachStorage]
    public async Task Statements_are_read_by_their_team_and_admins_and_bad_input_lists_every_error(string storage)
    {
        await using var db = await TestStorage.CreateAsync(storage);
        await using var upstream = await FixedUsageUpstreamAsync();
        await using var host = await GatewayHost.StartAsync(PricedConfig(upstream.BaseUrl + "/v1"), db.Overrides);
        var (teamId, _, teamKey) = await TeamWithKeyAsync(host, "own");
        var (_, _, other) = await TeamWithKeyAsync(host, "other");
        using var member = ClientWithKey(host, teamKey);
        using var outsider = ClientWithKey(host, other);

        // Without team=, a member reads their only team's statement; another team's is not found for them.
        Assert.Equal(teamId, (await GetJsonAsync(member, "api/v1/statements")).GetProperty("team").GetString());
        using (var response = await outsider.GetAsync($"api/v1/statements?team={teamId}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        using (var response = await outsider.GetAsync($"api/v1/statements/publisher?team={teamId}")) Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using (var response = await host.Client.GetAsync("api/v1/statements?team=team_missing")) Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);

        // Only admins adjust.
        using (var response = await member.PostAsJsonAsync("api/v1/statements/adjustments", new { team = teamId, month = "2026-01", amountUsd = -5m, reason = "mine" }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }
        Assert.Equal(0, (await GetJsonAsync(host.Client, "api/v1/audit?action=statement.adjusted")).GetProperty("total").GetInt64());

        // Every error at once, as problem details.
        var query = await ProblemAsync(await host.Client.GetAsync($"api/v1/statements?month=2026-13&format=xml"));
        Assert.Equal(["format", "month", "team"], query.Keys.Order(StringComparer.Ordinal));
        var body = await ProblemAsync(await host.Client.PostAsJsonAsync("api/v1/statements/adjustments", new { team = "team_missing", month = "January", amountUsd = 1.234m, reason = " " }));
        Assert.Equal(["amountUsd", "month", "reason", "team"], body.Keys.Order(StringComparer.Ordinal));
        var zero = await ProblemAsync(await host.Client.PostAsJsonAsync("api/v1/statements/adjustments", new { team = teamId, month = "2026-01", amountUsd = 0m, reason = "nothing" }));
        Assert.Equal(["amountUsd"], zero.Keys);
        var notJson = await ProblemAsync(await host.Client.PostAsync("api/v1/statements/adjustments", new StringContent("{\"amountUsd\": \"ten\"}", System.Text.Encoding.UTF8, "application/json")));
        Assert.NotEmpty(notJson);
    }

    /// <summary>The fields of one CSV line (RFC 4180 quoting).</summary>
    private static string[] CsvFields(string line)
    {
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted && c == '"' && i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i++; }
            else if (c == '"') quoted = !quoted;
            else if (c == ',' && !quoted) { fields.Add(field.ToString()); field.Clear(); }
            else field.Append(c);
        }
        fields.Add(field.ToString());
        return [.. fields];
    }

    private static async Task<Dictionary<string, string[]>> ProblemAsync(HttpResponseMessage response)
    {
        using (response)
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            return problem.GetProperty("errors").EnumerateObject().ToDictionary(static p => p.Name, static p => p.Value.EnumerateArray().Select(static v => v.GetString()!).ToArray());
        }
    }
}
