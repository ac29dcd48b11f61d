using System.Text;
using LlmMarketplace.Access.Audit;
using LlmMarketplace.Access.Keys;
using LlmMarketplace.Access.Metering;
using LlmMarketplace.Access.Teams;
using LlmMarketplace.Governance.Contracts;
using LlmMarketplace.Catalog.Contracts;
using LlmMarketplace.BuildingBlocks.Http;
using Microsoft.AspNetCore.Mvc;
using LlmMarketplace.BuildingBlocks.Security;

namespace LlmMarketplace.Access.Statements;

public sealed record CreateAdjustmentRequest
{
    public string? Team { get; init; }

    /// <summary>The statement's month, <c>YYYY-MM</c>.</summary>
    public string? Month { get; init; }

    /// <summary>USD, at most two decimals: negative for a credit, positive for a debit.</summary>
    public decimal? AmountUsd { get; init; }
    public string? Reason { get; init; }
}

/// <summary><c>/api/v1/statements</c>: a team's statement of a month (JSON or CSV), adjustments, and publisher revenue.</summary>
internal static class StatementsApi
{
    public const decimal MaxAdjustmentUsd = 1_000_000_000m;

    public static QueryParameter[] StatementQuery =>
    [
        new("team", QueryType.String, "The team's id; default: the caller's only team (required for admins and members of several teams)."),
        new("month", QueryType.String, "The month, YYYY-MM (UTC); default: the current month."),
        new("format", QueryType.String, "json (default) or csv; Accept: text/csv also asks for CSV.", ["json", "csv"]),
    ];

    public static QueryParameter[] PublisherQuery =>
    [
        new("team", QueryType.String, "The publishing team's id; default: the caller's only team."),
        new("month", QueryType.String, "The month, YYYY-MM (UTC); default: the current month."),
    ];

    public static async Task<IResult> GetAsync(HttpContext context, ClaimsPrincipal user, StatementService statements, TimeProvider time, CancellationToken cancellationToken)
    {
        var q = context.Request.Query;
        var errors = new ValidationErrors();
        var month = Month(q, time, errors);
        var format = q["format"].ToString();
        if (format.Length > 0 && format is not ("json" or "csv")) errors.Add("format", "format must be json or csv.");
        var team = Team(q, user, errors);
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());
        if (!MayRead(user, team!) || statements.TeamName(team!) is null) return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, detail: $"No team '{team}' that you can read.");

        var statement = await statements.BuildAsync(team!, month, cancellationToken);
        var csv = format == "csv" || (format.Length == 0 && context.Request.Headers.Accept.ToString().Contains("text/csv", StringComparison.OrdinalIgnoreCase));
        return csv ? TypedResults.Text(ToCsv(statement), "text/csv; charset=utf-8") : TypedResults.Ok(statement);
    }

    public static async Task<IResult> PublisherAsync(
        HttpContext context, ClaimsPrincipal user, StatementService statements, TimeProvider time, [FromServices] IListingDirectory? listings, CancellationToken cancellationToken)
    {
        var q = context.Request.Query;
        var errors = new ValidationErrors();
        var month = Month(q, time, errors);
        var team = Team(q, user, errors);
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());
        if (!MayRead(user, team!) || statements.TeamName(team!) is null) return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, detail: $"No team '{team}' that you can read.");

        var slugs = (listings?.All() ?? []).Where(l => l.Publisher == team).Select(static l => l.Slug).Distinct(StringComparer.Ordinal).ToList();
        return TypedResults.Ok(await statements.BuildPublisherAsync(team!, slugs, month, cancellationToken));
    }

    public static async Task<Results<Created<AdjustmentLine>, ValidationProblem>> AdjustAsync(
        JsonBody<CreateAdjustmentRequest> body, AccessStore store, AccessDirectory directory, TimeProvider time, HttpContext context, CancellationToken cancellationToken)
    {
        if (!body.IsValid) return body.Problem();
        var request = body.Value;
        var errors = new ValidationErrors();
        if (string.IsNullOrWhiteSpace(request.Team)) errors.Add("team", "The team whose statement is adjusted is required.");
        else if (!directory.Current.Teams.ContainsKey(request.Team)) errors.Add("team", $"Unknown team '{request.Team}'.");
        if (string.IsNullOrWhiteSpace(request.Month)) errors.Add("month", "The statement's month (YYYY-MM) is required.");
        else if (!StatementMonth.TryParse(request.Month, out _)) errors.Add("month", $"'{request.Month}' is not a month; write YYYY-MM, e.g. 2026-01.");
        if (request.AmountUsd is not { } amount) errors.Add("amountUsd", "The amount in USD is required: negative for a credit, positive for a debit.");
        else if (amount == 0) errors.Add("amountUsd", "The amount must not be zero.");
        else if (Math.Abs(amount) > MaxAdjustmentUsd) errors.Add("amountUsd", $"The amount must be at most {MaxAdjustmentUsd.ToString(CultureInfo.InvariantCulture)} USD either way.");
        else if (decimal.Round(amount, 2) != amount) errors.Add("amountUsd", "The amount has at most two decimals (cents).");
        if (string.IsNullOrWhiteSpace(request.Reason)) errors.Add("reason", "A reason is required; it is shown on the statement.");
        else if (request.Reason.Length > 500) errors.Add("reason", "The reason is at most 500 characters.");
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());

        var row = new AdjustmentRow
        {
            Id = KeyService.NewId("adj"),
            TeamId = request.Team!,
            Month = request.Month!,
            AmountCents = (long)(request.AmountUsd!.Value * 100),
            Reason = request.Reason!.Trim(),
            CreatedBy = CallerIdentity.ActorIdOf(context.User),
            CreatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        await using (var connection = await store.OpenAsync(cancellationToken))
        {
            await connection.ExecuteAsync(new CommandDefinition("""
                INSERT INTO access_statement_adjustments (id, team_id, month, amount_cents, reason, created_by, created_at_ms)
                VALUES (@Id, @TeamId, @Month, @AmountCents, @Reason, @CreatedBy, @CreatedAtMs)
                """, row, cancellationToken: cancellationToken));
        }
        var line = StatementService.ToLine(row);
        await AccessAudit.RecordAsync(context, "statement.adjusted", "statement_adjustment", row.Id, after: line);
        return TypedResults.Created($"/api/v1/statements?team={Uri.EscapeDataString(row.TeamId)}&month={row.Month}", line);
    }

    private static StatementMonth Month(IQueryCollection q, TimeProvider time, ValidationErrors errors)
    {
        if (QueryValues.Str(q, "month") is not { } text) return StatementMonth.Of(time.GetUtcNow());
        if (StatementMonth.TryParse(text, out var month)) return month;
        errors.Add("month", $"'{text}' is not a month; write YYYY-MM, e.g. 2026-01.");
        return default;
    }

    private static string? Team(IQueryCollection q, ClaimsPrincipal user, ValidationErrors errors)
    {
        if (QueryValues.Str(q, "team") is { } team) return team;
        var caller = CallerIdentity.From(user);
        if (caller.TeamIds.Count == 1) return caller.TeamIds[0];
        errors.Add("team", caller.TeamIds.Count == 0 ? "team is required (the caller belongs to no team)." : "team is required: the caller belongs to several teams.");
        return null;
    }

    /// <summary>Members read their teams' statements; admins and viewers read any.</summary>
    private static bool MayRead(ClaimsPrincipal user, string team)
    {
        var caller = CallerIdentity.From(user);
        return caller.CanSeeTeam(team) || user.IsInRole(Roles.Viewer);
    }

    /// <summary>One line per item, then the rounded subtotals and total; amounts in USD with invariant decimals.</summary>
    internal static string ToCsv(Statement s)
    {
        var sb = new StringBuilder("team,month,currency,section,item,description,quantity,amount\n");
        void Line(string section, string? item, string? description, string quantity, decimal amount) =>
            sb.AppendJoin(',', UsageApi.Csv(s.Team), s.Month, s.Currency, section, UsageApi.Csv(item), UsageApi.Csv(description), quantity, amount.ToString(CultureInfo.InvariantCulture)).Append('\n');
        foreach (var f in s.Subscriptions)
            Line("subscription", f.SubscriptionId, $"{f.PlanName} on {f.Model}, {f.Days}/{f.DaysInMonth} days of {f.MonthlyPriceUsd.ToString(CultureInfo.InvariantCulture)}", f.Days.ToString(CultureInfo.InvariantCulture), f.AmountUsd);
        foreach (var u in s.Usage)
            Line("usage", u.Model, u.Listing, u.Requests.ToString(CultureInfo.InvariantCulture), u.AmountUsd);
        foreach (var a in s.Adjustments)
            Line("adjustment", a.Id, a.Reason, "", a.AmountUsd);
        Line("total", "subscriptions", null, "", s.Totals.SubscriptionsUsd);
        Line("total", "usage", null, "", s.Totals.UsageUsd);
        Line("total", "adjustments", null, "", s.Totals.AdjustmentsUsd);
        Line("total", "total", null, "", s.Totals.TotalUsd);
        return sb.ToString();
    }
}
