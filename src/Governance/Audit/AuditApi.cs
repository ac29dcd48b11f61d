namespace LlmMarketplace.Governance.Audit;

/// <summary><c>GET /api/v1/audit</c> (filter, page, JSONL export) and <c>GET /api/v1/audit/verify</c>.</summary>
internal static class AuditApi
{
    public const int MaxLimit = 10_000;

    public static async Task<IResult> ListAsync(
        HttpContext context, AuditLog audit,
        string? action, string? actorId, string? targetType, string? targetId, string? outcome,
        string? from, string? to, int? limit, int? offset, string? format, string? order)
    {
        var errors = new ValidationErrors();
        var fromTime = ParseTime(from, "from", errors);
        var toTime = ParseTime(to, "to", errors);
        if (limit is < 1 or > MaxLimit) errors.Add("limit", $"must be between 1 and {MaxLimit}");
        if (offset is < 0) errors.Add("offset", "must not be negative");
        if (format is not (null or "json" or "jsonl")) errors.Add("format", "must be 'json' or 'jsonl'");
        if (order is not (null or "asc" or "desc")) errors.Add("order", "must be 'asc' or 'desc'");
        if (!errors.IsEmpty)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var jsonl = format == "jsonl";
        var query = new AuditQuery(action, actorId, targetType, targetId, outcome, fromTime, toTime,
            limit ?? (jsonl ? MaxLimit : 100), offset ?? 0, Ascending: order == "asc" || (order is null && jsonl));
        var (items, total) = await audit.QueryAsync(query, context.RequestAborted);
        if (!jsonl)
        {
            return TypedResults.Ok(new AuditPage(items.Select(static i => i.ToDto()).ToList(), total));
        }
        var builder = new StringBuilder();
        foreach (var item in items)
        {
            builder.Append(JsonSerializer.Serialize(item.ToDto(), GovernanceJson.Options)).Append('\n');
        }
        context.Response.Headers.ContentDisposition = "attachment; filename=\"audit.jsonl\"";
        context.Response.Headers["x-total-count"] = total.ToString(CultureInfo.InvariantCulture);
        return TypedResults.Text(builder.ToString(), "application/x-ndjson", Encoding.UTF8);
    }

    public static async Task<Ok<AuditVerification>> VerifyAsync(AuditLog audit, CancellationToken cancellationToken) =>
        TypedResults.Ok(await audit.VerifyAsync(cancellationToken));

    private static DateTimeOffset? ParseTime(string? value, string name, ValidationErrors errors)
    {
        if (string.IsNullOrEmpty(value)) return null;
        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)) return parsed;
        errors.Add(name, "must be an ISO 8601 time, e.g. 2026-01-31T00:00:00Z");
        return null;
    }
}

public sealed record AuditPage(IReadOnlyList<AuditEntryDto> Data, long Total);
