using System.Security.Claims;
using LlmMarketplace.Access.Contracts;
using LlmMarketplace.Catalog.Contracts;
using LlmMarketplace.BuildingBlocks.Http;
using LlmMarketplace.BuildingBlocks.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace LlmMarketplace.Insights.Analytics;

/// <summary>A listing its caller publishes, with its totals over the range.</summary>
public sealed record PublisherListing(string Listing, string Publisher, string? PublisherName, AnalyticsRow Totals);

/// <summary>The listings the caller's teams publish (admins and viewers: every listing).</summary>
public sealed record PublisherListings(DateTimeOffset From, DateTimeOffset To, IReadOnlyList<PublisherListing> Data);

/// <summary>A team that called the listing, with what it used.</summary>
public sealed record ConsumingTeam(string Team, string? TeamName, long Requests, long TotalTokens, decimal CostUsd, long Errors, double? LatencyP95Ms);

/// <summary>The measured service level of one bucket: calls, p95 latency and uptime (share of calls without a server error).</summary>
public sealed record ServiceLevelPoint(DateTimeOffset Time, long Requests, double? LatencyP95Ms, double? UptimePercent);

/// <summary>
/// What a listing's calls measured over a range, for its publisher: totals, a zero-filled series per bucket, the
/// consuming teams, and the service level per bucket beside the declared targets. Never the content of a call.
/// </summary>
public sealed record PublisherAnalytics(
    string Listing,
    string Publisher,
    string? PublisherName,
    DateTimeOffset From,
    DateTimeOffset To,
    string Interval,
    double? TargetP95LatencyMs,
    double? TargetUptimePercent,
    AnalyticsRow Totals,
    IReadOnlyList<AnalyticsRow> Series,
    IReadOnlyList<ServiceLevelPoint> ServiceLevel,
    IReadOnlyList<ConsumingTeam> Teams);

/// <summary>
/// <c>GET /api/v1/analytics/publisher</c>: the usage of a listing read by the team that publishes it, whichever team
/// made the calls. Callers who are neither admins nor viewers read only the listings of their teams.
/// </summary>
internal static class PublisherAnalyticsApi
{
    public static QueryParameter[] ListingsQuery =>
    [
        new("from", QueryType.DateTime, "Start of the range (ISO 8601); default: 30 days before to."),
        new("to", QueryType.DateTime, "End of the range (ISO 8601); default: now."),
    ];

    public static QueryParameter[] ListingQuery =>
    [
        new("listing", QueryType.String, "The listing's slug (required)."),
        .. ListingsQuery,
        new("interval", QueryType.String, "Bucket size; default from the range.", ["minute", "hour", "day"]),
    ];

    public static async Task<Results<Ok<PublisherListings>, ValidationProblem>> ListingsAsync(
        HttpContext context, ClaimsPrincipal user, AnalyticsQuery query, TimeProvider time, [FromServices] IListingDirectory? listings, [FromServices] ITeamNames? teams, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var (from, to) = Range(context.Request.Query, time, errors);
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());

        var own = (listings?.All() ?? []).Where(l => MayRead(user, l.Publisher)).ToList();
        var versions = own.Select(static l => l.Name).ToList();
        var parts = AnalyticsQuery.Decompose(from.ToUnixTimeMilliseconds(), to.ToUnixTimeMilliseconds());
        var filter = new AnalyticsFilter(new Dictionary<string, string>(), null) { AnyOf = new Dictionary<string, IReadOnlyList<string>> { ["listing"] = versions } };
        var totals = await query.AggregateAsync(parts, filter, Dimensions.Columns["listing"], byBucket: false, withSketches: true, null, cancellationToken);
        var data = own.GroupBy(static l => l.Slug, StringComparer.Ordinal)
            .Select(g =>
            {
                var sum = Sum(g.Select(v => totals.GetValueOrDefault((0L, v.Name))).OfType<Aggregate>());
                var publisher = g.First().Publisher;
                return new PublisherListing(g.Key, publisher, teams?.NameOf(publisher), AnalyticsApi.ToRow(null, g.Key, sum));
            })
            .OrderByDescending(static l => l.Totals.Requests).ThenBy(static l => l.Listing, StringComparer.Ordinal)
            .ToList();
        return TypedResults.Ok(new PublisherListings(from, to, data));
    }

    public static async Task<Results<Ok<PublisherAnalytics>, ProblemHttpResult, ValidationProblem>> ListingAsync(
        HttpContext context, ClaimsPrincipal user, AnalyticsQuery query, TimeProvider time, [FromServices] IListingDirectory? listings, [FromServices] ITeamNames? teams, CancellationToken cancellationToken)
    {
        var q = context.Request.Query;
        var errors = new ValidationErrors();
        var slug = q["listing"].ToString();
        if (slug.Length == 0) errors.Add("listing", "listing is required: the slug of a listing your team publishes.");
        var (from, to) = Range(q, time, errors);
        var (interval, granularity) = AnalyticsApi.Interval(q, from, to, errors);
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());

        var versions = (listings?.All() ?? []).Where(l => string.Equals(l.Slug, slug, StringComparison.Ordinal)).ToList();
        if (versions.Count == 0)
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"No routable listing '{slug}'.");
        var publisher = versions[0].Publisher;
        if (!MayRead(user, publisher))
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: $"Only the team that publishes '{slug}' (or an admin) reads its analytics.");

        var filter = new AnalyticsFilter(new Dictionary<string, string>(), null)
        {
            AnyOf = new Dictionary<string, IReadOnlyList<string>> { ["listing"] = [.. versions.Select(static v => v.Name)] },
        };
        var overall = AnalyticsQuery.Decompose(from.ToUnixTimeMilliseconds(), to.ToUnixTimeMilliseconds());
        var totals = await query.AggregateAsync(overall, filter, null, byBucket: false, withSketches: true, null, cancellationToken);
        var byTeam = await query.AggregateAsync(overall, filter, Dimensions.Columns["team"], byBucket: false, withSketches: true, null, cancellationToken);
        var startMs = Granularity.Floor(from.ToUnixTimeMilliseconds(), granularity!);
        var endMs = AnalyticsQuery.Ceil(to.ToUnixTimeMilliseconds(), granularity!);
        var buckets = await query.AggregateAsync([new RangePart(granularity!, startMs, endMs)], filter, null, byBucket: true, withSketches: true, null, cancellationToken);

        // Every bucket of the range, the empty ones as zeros, so a chart's time axis has no gaps.
        var series = new List<AnalyticsRow>();
        var serviceLevel = new List<ServiceLevelPoint>();
        var step = Granularity.Millis(granularity!);
        for (var ms = startMs; ms < endMs; ms += step)
        {
            var a = buckets.GetValueOrDefault((ms, "")) ?? new Aggregate();
            var at = DateTimeOffset.FromUnixTimeMilliseconds(ms);
            var row = AnalyticsApi.ToRow(at, null, a);
            series.Add(row);
            serviceLevel.Add(new ServiceLevelPoint(at, a.Requests, row.LatencyP95Ms,
                a.Requests == 0 ? null : Math.Round(100.0 * (a.Requests - a.ErrorsServer) / a.Requests, 4)));
        }
        var consumers = byTeam
            .Select(t => AnalyticsApi.ToRow(null, t.Key.Group, t.Value))
            .OrderByDescending(static r => r.Requests).ThenBy(static r => r.Group, StringComparer.Ordinal)
            .Select(r => new ConsumingTeam(r.Group ?? "", r.Group is { Length: > 0 } id ? teams?.NameOf(id) : null, r.Requests, r.TotalTokens, r.CostUsd, r.Errors, r.LatencyP95Ms))
            .ToList();
        var current = versions.FirstOrDefault(static v => v.P95LatencyMs is not null || v.UptimePercent is not null) ?? versions[0];
        return TypedResults.Ok(new PublisherAnalytics(slug, publisher, teams?.NameOf(publisher), from, to, interval, current.P95LatencyMs, current.UptimePercent,
            AnalyticsApi.ToRow(null, null, totals.Values.FirstOrDefault() ?? new Aggregate()), series, serviceLevel, consumers));
    }

    /// <summary>Admins and viewers read every listing; anyone else the listings of the teams in their claims.</summary>
    private static bool MayRead(ClaimsPrincipal user, string publisher) =>
        AnalyticsApi.SeesAll(user) || user.FindAll(MarketplaceClaims.TeamId).Any(c => string.Equals(c.Value, publisher, StringComparison.Ordinal));

    /// <summary>The range (default: the last 30 days), as the other analytics endpoints read it.</summary>
    private static (DateTimeOffset From, DateTimeOffset To) Range(IQueryCollection q, TimeProvider time, ValidationErrors errors)
    {
        if (q.ContainsKey("from")) return AnalyticsApi.Range(q, time, errors);
        var (_, to) = AnalyticsApi.Range(q, time, errors);
        var from = to - TimeSpan.FromDays(30);
        return (DateTimeOffset.FromUnixTimeMilliseconds(Granularity.Floor(from.ToUnixTimeMilliseconds(), Granularity.Minute)), to);
    }

    private static Aggregate Sum(IEnumerable<Aggregate> parts)
    {
        var sum = new Aggregate();
        foreach (var a in parts)
        {
            sum.Requests += a.Requests;
            sum.PromptTokens += a.PromptTokens;
            sum.CompletionTokens += a.CompletionTokens;
            sum.CachedTokens += a.CachedTokens;
            sum.CostUsd += a.CostUsd;
            sum.ErrorsClient += a.ErrorsClient;
            sum.ErrorsRateLimited += a.ErrorsRateLimited;
            sum.ErrorsServer += a.ErrorsServer;
            sum.CacheHits += a.CacheHits;
            if (a.Latency is not null) (sum.Latency ??= new DDSketch()).Merge(a.Latency);
            if (a.Ttft is not null) (sum.Ttft ??= new DDSketch()).Merge(a.Ttft);
        }
        return sum;
    }
}
