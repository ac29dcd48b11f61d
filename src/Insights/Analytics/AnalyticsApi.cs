using System.Security.Claims;
using System.Text;
using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.BuildingBlocks.Http;

using static LlmMarketplace.BuildingBlocks.Validation.QueryValues;

namespace LlmMarketplace.Insights.Analytics;

/// <summary>One row of analytics: a time bucket and/or a group with its sums, error classes and percentiles.</summary>
public sealed record AnalyticsRow(
    DateTimeOffset? Time,
    string? Group,
    long Requests,
    long PromptTokens,
    long CompletionTokens,
    long TotalTokens,
    long CachedTokens,
    decimal CostUsd,
    long ErrorsClient,
    long ErrorsRateLimited,
    long ErrorsServer,
    long Errors,
    double ErrorRate,
    long CacheHits,
    double? LatencyP50Ms,
    double? LatencyP95Ms,
    double? LatencyP99Ms,
    double? TtftP50Ms,
    double? TtftP95Ms,
    double? TtftP99Ms);

/// <summary>The answer of the analytics endpoints.</summary>
public sealed record AnalyticsResult(DateTimeOffset From, DateTimeOffset To, string? Interval, string? GroupBy, IReadOnlyList<AnalyticsRow> Data);

/// <summary><c>GET /api/v1/analytics/*</c>: time series, breakdowns (top N) and summaries over the usage rollups.</summary>
internal static class AnalyticsApi
{
    private static readonly string[] Orders = ["cost", "requests", "tokens", "errors", "latency"];

    /// <summary>The query parameters every analytics endpoint reads: the range, the format and the dimension filters.</summary>
    private static QueryParameter[] Common =>
    [
        new("from", QueryType.DateTime, "Start of the range (ISO 8601); default: 24 hours before to."),
        new("to", QueryType.DateTime, "End of the range (ISO 8601); default: now."),
        new("percentiles", QueryType.Boolean, "Whether to compute latency percentiles (default true)."),
        new("format", QueryType.String, "json (default) or csv.", ["json", "csv"]),
        .. Dimensions.Columns.Keys.Select(static d => new QueryParameter(d, QueryType.String, $"Only this {d}.")),
    ];

    public static QueryParameter[] TimeseriesQuery =>
    [
        .. Common,
        new("interval", QueryType.String, "Bucket size; default from the range.", ["minute", "hour", "day"]),
        new("groupBy", QueryType.String, "A dimension to draw one series per group of (top N).", [.. Dimensions.Columns.Keys]),
        new("limit", QueryType.Integer, "Top N groups (1-1000, default 10)."),
        new("orderBy", QueryType.String, "What the top N is ranked by.", Orders),
    ];

    public static QueryParameter[] BreakdownQuery =>
    [
        .. Common,
        new("by", QueryType.String, "The dimension to break down by (required).", [.. Dimensions.Columns.Keys]),
        new("limit", QueryType.Integer, "Top N (1-10000, default 10)."),
        new("orderBy", QueryType.String, "What the top N is ranked by.", Orders),
    ];

    public static QueryParameter[] SummaryQuery => Common;

    public static async Task<IResult> TimeseriesAsync(HttpContext context, ClaimsPrincipal user, AnalyticsQuery query, TimeProvider time, CancellationToken cancellationToken)
    {
        var q = context.Request.Query;
        var errors = new ValidationErrors();
        var (from, to) = Range(q, time, errors);
        var (interval, granularity) = Interval(q, from, to, errors);
        var groupBy = GroupBy(q, "groupBy", errors, required: false);
        var limit = Int(q, "limit", 10, errors);
        if (limit is < 1 or > 1000) errors.Add("limit", "limit must be between 1 and 1000.");
        var orderBy = Order(q, errors);
        var filter = Filter(q, user, errors);
        var withPercentiles = Bool(q, "percentiles", true, errors);
        var csv = Csv(context, errors);
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());

        var parts = new[] { new RangePart(granularity!, Granularity.Floor(from.ToUnixTimeMilliseconds(), granularity!), AnalyticsQuery.Ceil(to.ToUnixTimeMilliseconds(), granularity!)) };
        var column = groupBy is null ? null : Dimensions.Columns[groupBy];
        IReadOnlyCollection<string>? groups = null;
        if (column is not null)
        {
            // The top groups over the whole range; the series is drawn for those only.
            var totals = await query.AggregateAsync(parts, filter, column, byBucket: false, withSketches: orderBy == "latency", null, cancellationToken);
            groups = Top(totals, orderBy, limit).Select(static t => t.Key.Group).ToHashSet(StringComparer.Ordinal);
        }
        var aggregates = await query.AggregateAsync(parts, filter, column, byBucket: true, withPercentiles, groups, cancellationToken);
        var rows = aggregates
            .Where(a => groups is null || groups.Contains(a.Key.Group))
            .OrderBy(static a => a.Key.Bucket).ThenBy(static a => a.Key.Group, StringComparer.Ordinal)
            .Select(a => ToRow(DateTimeOffset.FromUnixTimeMilliseconds(a.Key.Bucket), groupBy is null ? null : a.Key.Group, a.Value))
            .ToList();
        var result = new AnalyticsResult(from, to, interval, groupBy, rows);
        return csv ? ToCsv(result) : TypedResults.Ok(result);
    }

    public static async Task<IResult> BreakdownAsync(HttpContext context, ClaimsPrincipal user, AnalyticsQuery query, TimeProvider time, CancellationToken cancellationToken)
    {
        var q = context.Request.Query;
        var errors = new ValidationErrors();
        var (from, to) = Range(q, time, errors);
        var by = GroupBy(q, "by", errors, required: true);
        var limit = Int(q, "limit", 10, errors);
        if (limit is < 1 or > 10_000) errors.Add("limit", "limit must be between 1 and 10000.");
        var orderBy = Order(q, errors);
        var filter = Filter(q, user, errors);
        var withPercentiles = Bool(q, "percentiles", true, errors);
        var csv = Csv(context, errors);
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());

        var parts = AnalyticsQuery.Decompose(from.ToUnixTimeMilliseconds(), to.ToUnixTimeMilliseconds());
        var column = Dimensions.Columns[by!];
        var totals = await query.AggregateAsync(parts, filter, column, byBucket: false, withSketches: orderBy == "latency", null, cancellationToken);
        var top = Top(totals, orderBy, limit).ToList();
        if (withPercentiles && orderBy != "latency" && top.Count > 0)
        {
            var names = top.Select(static t => t.Key.Group).ToHashSet(StringComparer.Ordinal);
            var withSketches = await query.AggregateAsync(parts, filter, column, byBucket: false, withSketches: true, names, cancellationToken);
            top = [.. top.Select(t => new KeyValuePair<(long Bucket, string Group), Aggregate>(t.Key, withSketches.GetValueOrDefault(t.Key) ?? t.Value))];
        }
        var rows = top.Select(t => ToRow(null, t.Key.Group, t.Value)).ToList();
        var result = new AnalyticsResult(from, to, null, by, rows);
        return csv ? ToCsv(result) : TypedResults.Ok(result);
    }

    public static async Task<IResult> SummaryAsync(HttpContext context, ClaimsPrincipal user, AnalyticsQuery query, TimeProvider time, CancellationToken cancellationToken)
    {
        var q = context.Request.Query;
        var errors = new ValidationErrors();
        var (from, to) = Range(q, time, errors);
        var filter = Filter(q, user, errors);
        var withPercentiles = Bool(q, "percentiles", true, errors);
        var csv = Csv(context, errors);
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());

        var parts = AnalyticsQuery.Decompose(from.ToUnixTimeMilliseconds(), to.ToUnixTimeMilliseconds());
        var totals = await query.AggregateAsync(parts, filter, null, byBucket: false, withPercentiles, null, cancellationToken);
        var row = ToRow(null, null, totals.Values.FirstOrDefault() ?? new Aggregate());
        var result = new AnalyticsResult(from, to, null, null, [row]);
        return csv ? ToCsv(result) : TypedResults.Ok(result);
    }

    private static IEnumerable<KeyValuePair<(long Bucket, string Group), Aggregate>> Top(Dictionary<(long Bucket, string Group), Aggregate> totals, string orderBy, int limit) =>
        totals.OrderByDescending(t => orderBy switch
        {
            "requests" => t.Value.Requests,
            "tokens" => t.Value.PromptTokens + t.Value.CompletionTokens,
            "errors" => t.Value.Errors,
            "latency" => (decimal)(t.Value.Latency?.Quantile(0.95) ?? 0),
            _ => t.Value.CostUsd,
        }).ThenBy(static t => t.Key.Group, StringComparer.Ordinal).Take(limit);

    /// <summary>The bucket size asked for (<c>interval</c>), by default from the range, at most 10,000 buckets in the range.</summary>
    internal static (string Interval, string? Granularity) Interval(IQueryCollection q, DateTimeOffset from, DateTimeOffset to, ValidationErrors errors)
    {
        var interval = q["interval"].ToString();
        if (interval.Length == 0) interval = (to - from) <= TimeSpan.FromHours(6) ? "minute" : (to - from) <= TimeSpan.FromDays(14) ? "hour" : "day";
        var granularity = interval switch { "minute" => Granularity.Minute, "hour" => Granularity.Hour, "day" => Granularity.Day, _ => null };
        if (granularity is null) errors.Add("interval", "interval must be minute, hour or day.");
        else if (from < to)
        {
            var points = (to - from).TotalMilliseconds / Granularity.Millis(granularity);
            if (points > 10_000) errors.Add("interval", $"The range holds {points:0} {interval}s; ask for at most 10000 points (a coarser interval or a shorter range).");
        }
        return (interval, granularity);
    }

    internal static AnalyticsRow ToRow(DateTimeOffset? at, string? group, Aggregate a) => new(
        at, group, a.Requests, a.PromptTokens, a.CompletionTokens, a.PromptTokens + a.CompletionTokens, a.CachedTokens, a.CostUsd,
        a.ErrorsClient, a.ErrorsRateLimited, a.ErrorsServer, a.Errors, a.Requests == 0 ? 0 : (double)a.Errors / a.Requests, a.CacheHits,
        Round(a.Latency?.Quantile(0.50)), Round(a.Latency?.Quantile(0.95)), Round(a.Latency?.Quantile(0.99)),
        Round(a.Ttft?.Quantile(0.50)), Round(a.Ttft?.Quantile(0.95)), Round(a.Ttft?.Quantile(0.99)));

    private static double? Round(double? value) => value is { } v ? Math.Round(v, 3) : null;

    /// <summary>The range asked for, minute-aligned: <c>from</c> and <c>to</c> (ISO 8601), by default the last 24 hours.</summary>
    internal static (DateTimeOffset From, DateTimeOffset To) Range(IQueryCollection q, TimeProvider time, ValidationErrors errors)
    {
        var to = Time(q, "to", errors) ?? time.GetUtcNow();
        var from = Time(q, "from", errors) ?? to - TimeSpan.FromHours(24);
        to = DateTimeOffset.FromUnixTimeMilliseconds(AnalyticsQuery.Ceil(to.ToUnixTimeMilliseconds(), Granularity.Minute));
        from = DateTimeOffset.FromUnixTimeMilliseconds(Granularity.Floor(from.ToUnixTimeMilliseconds(), Granularity.Minute));
        if (from >= to) errors.Add("from", "from must be before to.");
        return (from, to);
    }

    private static string? GroupBy(IQueryCollection q, string name, ValidationErrors errors, bool required)
    {
        var raw = q[name].ToString();
        if (raw.Length == 0)
        {
            if (required) errors.Add(name, $"{name} is required: one of {Dimensions.Names}.");
            return null;
        }
        if (Dimensions.Columns.ContainsKey(raw)) return raw;
        errors.Add(name, $"{name} must be one of {Dimensions.Names}.");
        return null;
    }

    private static string Order(IQueryCollection q, ValidationErrors errors)
    {
        var raw = q["orderBy"].ToString();
        if (raw.Length == 0) return "cost";
        if (Orders.Contains(raw)) return raw;
        errors.Add("orderBy", $"orderBy must be one of {string.Join(", ", Orders)}.");
        return "cost";
    }

    /// <summary>Dimension filters (<c>team=</c>, <c>model=</c>, ...); callers who are not admins or viewers see only their teams.</summary>
    private static AnalyticsFilter Filter(IQueryCollection q, ClaimsPrincipal user, ValidationErrors errors)
    {
        var equal = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var dimension in Dimensions.Columns.Keys)
        {
            if (q[dimension].ToString() is { Length: > 0 } value) equal[dimension] = value;
        }
        _ = errors;
        return new AnalyticsFilter(equal, SeesAll(user) ? null : [.. user.FindAll(MarketplaceClaims.TeamId).Select(static c => c.Value)]);
    }

    public static bool SeesAll(ClaimsPrincipal user) =>
        user.IsInRole(Roles.SuperAdmin) || user.IsInRole(Roles.Admin) || user.IsInRole(Roles.Viewer) || user.IsInRole(Roles.Approver);

    internal static bool Csv(HttpContext context, ValidationErrors errors)
    {
        var format = context.Request.Query["format"].ToString();
        if (format.Length > 0 && format is not ("json" or "csv")) errors.Add("format", "format must be json or csv.");
        return format == "csv" || (format.Length == 0 && context.Request.Headers.Accept.ToString().Contains("text/csv", StringComparison.OrdinalIgnoreCase));
    }

    private static IResult ToCsv(AnalyticsResult result)
    {
        var sb = new StringBuilder("time,group,requests,promptTokens,completionTokens,totalTokens,cachedTokens,costUsd,errorsClient,errorsRateLimited,errorsServer,errors,errorRate,cacheHits,latencyP50Ms,latencyP95Ms,latencyP99Ms,ttftP50Ms,ttftP95Ms,ttftP99Ms\n");
        var c = CultureInfo.InvariantCulture;
        foreach (var r in result.Data)
        {
            sb.AppendJoin(',',
                r.Time?.ToString("O", c) ?? "", CsvCell(r.Group), r.Requests.ToString(c), r.PromptTokens.ToString(c), r.CompletionTokens.ToString(c),
                r.TotalTokens.ToString(c), r.CachedTokens.ToString(c), r.CostUsd.ToString(c), r.ErrorsClient.ToString(c), r.ErrorsRateLimited.ToString(c),
                r.ErrorsServer.ToString(c), r.Errors.ToString(c), r.ErrorRate.ToString("0.######", c), r.CacheHits.ToString(c),
                r.LatencyP50Ms?.ToString(c) ?? "", r.LatencyP95Ms?.ToString(c) ?? "", r.LatencyP99Ms?.ToString(c) ?? "",
                r.TtftP50Ms?.ToString(c) ?? "", r.TtftP95Ms?.ToString(c) ?? "", r.TtftP99Ms?.ToString(c) ?? "");
            sb.Append('\n');
        }
        return TypedResults.Text(sb.ToString(), "text/csv; charset=utf-8");
    }

    private static string CsvCell(string? value)
    {
        if (value is null) return "";
        if (value.Length > 0 && value[0] is '=' or '+' or '-' or '@') value = "'" + value;
        return value.AsSpan().IndexOfAny(",\"\n\r") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }
}
