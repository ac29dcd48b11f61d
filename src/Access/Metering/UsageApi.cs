using System.Text;
using LlmMarketplace.Access.Budgets;
using LlmMarketplace.Access.Teams;

using static LlmMarketplace.BuildingBlocks.Validation.QueryValues;

namespace LlmMarketplace.Access.Metering;

/// <summary>One usage record as <c>GET /api/v1/usage</c> returns it.</summary>
public sealed record UsageDto(
    string RequestId,
    DateTimeOffset Time,
    string Operation,
    string Model,
    string? Provider,
    string? Deployment,
    string? KeyId,
    string? AppId,
    string? TeamId,
    string? UserId,
    long PromptTokens,
    long CompletionTokens,
    long CachedTokens,
    long ReasoningTokens,
    decimal CostUsd,
    double LatencyMs,
    double? TimeToFirstTokenMs,
    int Status,
    string Cache,
    bool Stream,
    string? Listing,
    string? ListingVersion);

/// <summary>A group of usage (<c>groupBy=day|model|app|listing</c>).</summary>
public sealed record UsageGroupDto(string Key, long Requests, long PromptTokens, long CompletionTokens, long CachedTokens, long ReasoningTokens, decimal CostUsd);

public sealed record UsagePage<T>(IReadOnlyList<T> Data, long Total);

/// <summary><c>GET /api/v1/usage</c>: records newest first, filters, grouping and CSV export.</summary>
internal static class UsageApi
{
    public const int MaxLimit = 10_000;

    public static async Task<IResult> GetAsync(HttpContext context, ClaimsPrincipal user, AccessStore store, BudgetLedger ledger, CancellationToken cancellationToken)
    {
        var q = context.Request.Query;
        var errors = new ValidationErrors();
        var (limit, offset) = Page(q, MaxLimit, errors);
        var from = Time(q, "from", errors);
        var to = Time(q, "to", errors);
        var groupBy = q["groupBy"].ToString();
        if (groupBy.Length > 0 && groupBy is not ("day" or "model" or "app" or "listing")) errors.Add("groupBy", "groupBy must be day, model, app or listing.");
        var format = q["format"].ToString();
        if (format.Length > 0 && format is not ("json" or "csv")) errors.Add("format", "format must be json or csv.");
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());

        var caller = CallerIdentity.From(user);
        var filter = new UsageFilter
        {
            KeyId = Str(q, "keyId"),
            AppId = Str(q, "appId") ?? Str(q, "app"),
            TeamId = Str(q, "teamId") ?? Str(q, "team"),
            UserId = Str(q, "userId"),
            Model = Str(q, "model"),
            Listing = Str(q, "listing"),
            RequestId = Str(q, "requestId"),
            FromMs = from?.ToUnixTimeMilliseconds(),
            ToMs = to?.ToUnixTimeMilliseconds(),
            TeamIds = caller.IsAdmin ? null : caller.TeamIds,
        };
        var csv = format == "csv" || context.Request.Headers.Accept.ToString().Contains("text/csv", StringComparison.OrdinalIgnoreCase);

        if (groupBy.Length > 0)
        {
            var groups = new Dictionary<string, UsageGroupDto>(StringComparer.Ordinal);
            await foreach (var row in store.ScanUsageAsync(filter, cancellationToken))
            {
                var key = groupBy switch
                {
                    "day" => TimeZoneInfo.ConvertTime(DateTimeOffset.FromUnixTimeMilliseconds(row.AtMs), ledger.Zone).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                    "model" => row.Model,
                    "listing" => row.Listing ?? "",
                    _ => row.AppId ?? "",
                };
                var g = groups.GetValueOrDefault(key) ?? new UsageGroupDto(key, 0, 0, 0, 0, 0, 0);
                groups[key] = g with
                {
                    Requests = g.Requests + 1,
                    PromptTokens = g.PromptTokens + row.PromptTokens,
                    CompletionTokens = g.CompletionTokens + row.CompletionTokens,
                    CachedTokens = g.CachedTokens + row.CachedTokens,
                    ReasoningTokens = g.ReasoningTokens + row.ReasoningTokens,
                    CostUsd = g.CostUsd + row.CostUsd,
                };
            }
            var ordered = (groupBy == "day" ? groups.Values.OrderBy(static g => g.Key, StringComparer.Ordinal) : groups.Values.OrderByDescending(static g => g.CostUsd))
                .Skip(offset).Take(limit).ToList();
            if (csv)
            {
                var sb = new StringBuilder(groupBy).Append(",requests,promptTokens,completionTokens,cachedTokens,reasoningTokens,costUsd\n");
                foreach (var g in ordered)
                {
                    sb.Append(Csv(g.Key)).Append(',').Append(g.Requests).Append(',').Append(g.PromptTokens).Append(',').Append(g.CompletionTokens).Append(',')
                      .Append(g.CachedTokens).Append(',').Append(g.ReasoningTokens).Append(',').Append(g.CostUsd.ToString(CultureInfo.InvariantCulture)).Append('\n');
                }
                return TypedResults.Text(sb.ToString(), "text/csv; charset=utf-8");
            }
            return TypedResults.Ok(new UsagePage<UsageGroupDto>(ordered, groups.Count));
        }

        var (rows, total) = await store.QueryUsageAsync(filter, limit, offset, cancellationToken);
        var data = rows.Select(ToDto).ToList();
        if (csv)
        {
            var sb = new StringBuilder("requestId,time,operation,model,provider,deployment,keyId,appId,teamId,userId,promptTokens,completionTokens,cachedTokens,reasoningTokens,costUsd,latencyMs,ttftMs,status,cache,stream,listing,listingVersion\n");
            foreach (var u in data)
            {
                sb.AppendJoin(',',
                    Csv(u.RequestId), u.Time.ToString("O", CultureInfo.InvariantCulture), u.Operation, Csv(u.Model), Csv(u.Provider), Csv(u.Deployment),
                    Csv(u.KeyId), Csv(u.AppId), Csv(u.TeamId), Csv(u.UserId),
                    u.PromptTokens.ToString(CultureInfo.InvariantCulture), u.CompletionTokens.ToString(CultureInfo.InvariantCulture),
                    u.CachedTokens.ToString(CultureInfo.InvariantCulture), u.ReasoningTokens.ToString(CultureInfo.InvariantCulture),
                    u.CostUsd.ToString(CultureInfo.InvariantCulture), u.LatencyMs.ToString("0.###", CultureInfo.InvariantCulture),
                    u.TimeToFirstTokenMs?.ToString("0.###", CultureInfo.InvariantCulture) ?? "", u.Status.ToString(CultureInfo.InvariantCulture), u.Cache, u.Stream ? "true" : "false",
                    Csv(u.Listing), Csv(u.ListingVersion));
                sb.Append('\n');
            }
            return TypedResults.Text(sb.ToString(), "text/csv; charset=utf-8");
        }
        return TypedResults.Ok(new UsagePage<UsageDto>(data, total));
    }

    internal static UsageDto ToDto(UsageRow r) => new(
        r.RequestId, DateTimeOffset.FromUnixTimeMilliseconds(r.AtMs), r.Operation, r.Model, r.Provider, r.Deployment,
        r.KeyId, r.AppId, r.TeamId, r.UserId, r.PromptTokens, r.CompletionTokens, r.CachedTokens, r.ReasoningTokens,
        r.CostUsd, r.LatencyMs, r.TtftMs, (int)r.Status, r.Cache, r.Stream == 1, r.Listing, r.ListingVersion);

    internal static string Csv(string? value)
    {
        if (value is null) return "";
        var needsQuotes = value.AsSpan().IndexOfAny(",\"\n\r") >= 0;
        // A leading =, +, - or @ would make spreadsheets evaluate the cell.
        if (value.Length > 0 && value[0] is '=' or '+' or '-' or '@') value = "'" + value;
        return needsQuotes ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }
}
