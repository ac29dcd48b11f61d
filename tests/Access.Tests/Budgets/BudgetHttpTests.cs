using LlmMarketplace.Access.Budgets;

namespace LlmMarketplace.Access.Tests.Budgets;

/// <summary>Budgets through the real host: hard stop with insufficient_quota, free models pass, the in-flight bound with parallel clients.</summary>
public class BudgetHttpTests() : AccessHostTests(new Usage(1000, 1000))
{
    // 1000 prompt + 1000 completion tokens at 1 and 2 USD per 1M: 0.003 USD a call.
    private const decimal CallCost = 0.003m;

    [Fact]
    public async Task An_exhausted_budget_is_a_hard_stop_with_insufficient_quota_but_a_free_model_still_answers()
    {
        var alerts = new List<BudgetAlert>();
        Host.Service<AccessEvents>().BudgetAlert += a => { lock (alerts) alerts.Add(a); };
        var key = await CreateKeyAsync(Host, new { name = "budgeted", budgetUsd = 0.01, budgetPeriod = "daily" });
        var keyId = key.GetProperty("id").GetString()!;
        using var client = ClientWithKey(Host, key.GetProperty("key").GetString()!);
        var ok = 0;
        while (true)
        {
            using var r = await ChatAsync(client);
            if (r.StatusCode != HttpStatusCode.OK)
            {
                Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode);
                Assert.Equal("false", Header(r, "x-should-retry"));
                var error = await ErrorAsync(r);
                Assert.Equal("insufficient_quota", error.GetProperty("code").GetString());
                Assert.Equal("insufficient_quota", error.GetProperty("type").GetString());
                break;
            }
            ok++;
            Assert.True(ok < 10, "the budget never stopped the key");
        }
        // 0.01 USD at 0.003 a call: calls are admitted while spend is below the budget.
        Assert.Equal(4, ok);
        lock (alerts) Assert.Contains(alerts, a => a.ScopeId == keyId);

        using var free = await ChatAsync(client, "free-model");
        Assert.Equal(HttpStatusCode.OK, free.StatusCode);

        var budgets = await GetJsonAsync(Host.Client, "api/v1/budgets");
        var mine = budgets.GetProperty("data").EnumerateArray().Single(b => b.GetProperty("scopeId").GetString() == keyId);
        Assert.Equal(4 * CallCost, mine.GetProperty("spentUsd").GetDecimal());
    }

    [Fact]
    public async Task Parallel_clients_never_overspend_by_more_than_the_calls_in_flight()
    {
        const decimal budget = 0.05m;
        const int workers = 8;
        var team = "spenders-" + Guid.NewGuid().ToString("N");
        var key = await CreateKeyAsync(Host, new { name = "parallel-budget", team });
        var teamId = key.GetProperty("team").GetString()!;
        await PostJsonAsync(Host.Client, "api/v1/budgets", new { scope = "team", scopeId = teamId, limitUsd = budget, period = "monthly" });
        var secret = key.GetProperty("key").GetString()!;
        await Task.WhenAll(Enumerable.Range(0, workers).Select(async _ =>
        {
            using var client = ClientWithKey(Host, secret);
            for (var i = 0; i < 100; i++)
            {
                using var r = await ChatAsync(client);
                if (r.StatusCode == HttpStatusCode.TooManyRequests) return;
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            }
        }));
        var records = await UsageOfKeyAsync(Host, key.GetProperty("id").GetString()!);
        var spent = records.Where(static r => r.GetProperty("status").GetInt32() == 200).Sum(static r => r.GetProperty("costUsd").GetDecimal());
        Assert.True(spent >= budget, $"spent {spent}");
        Assert.True(spent <= budget + (workers * CallCost), $"spent {spent} exceeds {budget} by more than {workers} calls in flight");
    }

    [Fact]
    public async Task Budget_validation_lists_every_error()
    {
        using var response = await Host.Client.PostAsync("api/v1/budgets",
            new StringContent("""{"scope":"galaxy","limitUsd":-1,"limitTokens":-2,"period":"hourly","alertThreshold":3}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
        foreach (var field in new[] { "scope", "scopeId", "limitUsd", "limitTokens", "period", "alertThreshold" })
        {
            Assert.True(errors.TryGetProperty(field, out _), $"missing error for {field}: {errors}");
        }
    }
}

/// <summary>The same tests on PostgreSQL.</summary>
public sealed class BudgetHttpTestsOnPostgres : BudgetHttpTests
{
    protected override string Provider => "postgres";
}
