using LlmMarketplace.Access.Keys;
using LlmMarketplace.Access.Teams;

namespace LlmMarketplace.Access.Budgets;

/// <summary><c>POST /api/v1/budgets</c> body.</summary>
public sealed record CreateBudgetRequest
{
    /// <summary><c>key</c>, <c>app</c>, <c>team</c> or <c>user</c>.</summary>
    public string? Scope { get; init; }
    public string? ScopeId { get; init; }
    public decimal? LimitUsd { get; init; }
    public long? LimitTokens { get; init; }
    public string? Period { get; init; }
    public double? AlertThreshold { get; init; }
}

public sealed record BudgetDto(
    string Id, string Scope, string ScopeId, decimal? LimitUsd, long? LimitTokens, string Period, double AlertThreshold,
    decimal SpentUsd, long SpentTokens, DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd);

/// <summary>Budgets and quotas in USD and tokens at key, app, team and user level.</summary>
internal sealed class BudgetService(AccessStore store, AccessDirectory directory, BudgetLedger ledger, AccessOptions options, TimeProvider time)
{
    public static readonly IReadOnlyList<string> Scopes = ["key", "app", "team", "user"];

    public const string InsertSql = """
        INSERT INTO access_budgets (id, scope, scope_id, limit_usd, limit_tokens, period, alert_threshold, created_at_ms)
        VALUES (@Id, @Scope, @ScopeId, @LimitUsd, @LimitTokens, @Period, @AlertThreshold, @CreatedAtMs)
        """;

    /// <summary>The usage column a budget scope counts (a fixed set: never user input in SQL).</summary>
    public static string UsageColumn(string scope) => scope switch
    {
        "key" => "key_id",
        "app" => "app_id",
        "team" => "team_id",
        "user" => "user_id",
        _ => "subscription_id",
    };

    public async Task<(BudgetDto? Budget, ValidationErrors Errors)> CreateAsync(CreateBudgetRequest request, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var snapshot = directory.Current;
        if (request.Scope is null || !Scopes.Contains(request.Scope)) errors.Add("scope", $"scope must be one of {string.Join(", ", Scopes)}.");
        if (string.IsNullOrWhiteSpace(request.ScopeId)) errors.Add("scopeId", "scopeId is required.");
        else if (request.Scope == "key" && !snapshot.KeysById.ContainsKey(request.ScopeId)) errors.Add("scopeId", $"Unknown or inactive key '{request.ScopeId}'.");
        else if (request.Scope == "app" && !snapshot.Apps.ContainsKey(request.ScopeId)) errors.Add("scopeId", $"Unknown app '{request.ScopeId}'.");
        else if (request.Scope == "team" && !snapshot.Teams.ContainsKey(request.ScopeId)) errors.Add("scopeId", $"Unknown team '{request.ScopeId}'.");
        if (request.LimitUsd is null && request.LimitTokens is null) errors.Add("limitUsd", "Set limitUsd, limitTokens or both.");
        if (request.LimitUsd is < 0) errors.Add("limitUsd", "limitUsd must be zero or more.");
        if (request.LimitTokens is < 0) errors.Add("limitTokens", "limitTokens must be zero or more.");
        var period = request.Period ?? BudgetPeriod.Monthly;
        if (!BudgetPeriod.IsValid(period)) errors.Add("period", $"period must be one of {string.Join(", ", BudgetPeriod.All)}.");
        var threshold = request.AlertThreshold ?? options.AlertThreshold;
        if (threshold is <= 0 or > 1) errors.Add("alertThreshold", "alertThreshold must be a fraction in (0, 1].");
        if (!errors.IsEmpty) return (null, errors);

        var row = new BudgetRow
        {
            Id = KeyService.NewId("budget"),
            Scope = request.Scope!,
            ScopeId = request.ScopeId!,
            LimitUsd = request.LimitUsd,
            LimitTokens = request.LimitTokens,
            Period = period,
            AlertThreshold = threshold,
            CreatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        await using (var connection = await store.OpenAsync(cancellationToken))
        {
            await connection.ExecuteAsync(new CommandDefinition(InsertSql, row, cancellationToken: cancellationToken));
        }
        await directory.ReloadAsync(cancellationToken);
        return (ToDto(row), errors);
    }

    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        int changed;
        await using (var connection = await store.OpenAsync(cancellationToken))
        {
            changed = await connection.ExecuteAsync(new CommandDefinition("DELETE FROM access_budgets WHERE id = @id", new { id }, cancellationToken: cancellationToken));
        }
        await directory.ReloadAsync(cancellationToken);
        return changed > 0;
    }

    /// <summary>The team a budget belongs to, for member visibility.</summary>
    public static string? TeamOf(BudgetRow b, AccessSnapshot s) => b.Scope switch
    {
        "team" => b.ScopeId,
        "app" => s.Apps.GetValueOrDefault(b.ScopeId)?.TeamId,
        "key" => s.KeysById.GetValueOrDefault(b.ScopeId)?.Row.TeamId,
        _ => null,
    };

    public IEnumerable<BudgetDto> List(CallerIdentity caller)
    {
        var snapshot = directory.Current;
        return snapshot.Budgets
            .Where(b => caller.IsAdmin || caller.CanSeeTeam(TeamOf(b, snapshot)) || (b.Scope == "user" && b.ScopeId == caller.UserId))
            .Select(ToDto);
    }

    public BudgetDto ToDto(BudgetRow b)
    {
        var (usd, tokens, start, end) = ledger.Spent(Pipeline.AccessInterceptor.ToLimit(b));
        return new BudgetDto(b.Id, b.Scope, b.ScopeId, b.LimitUsd, b.LimitTokens, b.Period, b.AlertThreshold, usd, tokens, start, end);
    }
}
