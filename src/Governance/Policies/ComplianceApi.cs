namespace LlmMarketplace.Governance.Policies;

/// <summary><c>GET /api/v1/governance/compliance/violations</c>: live listings that break a global policy, as the last re-evaluation found them.</summary>
internal static class ComplianceApi
{
    public const int MaxLimit = 1000;

    public static async Task<Results<Ok<ViolationPage>, ValidationProblem>> ListViolationsAsync(
        HttpContext context, ComplianceMonitor compliance, string? status, string? listing, string? policy, int? limit, int? offset)
    {
        var errors = new ValidationErrors();
        if (status is not (null or ComplianceMonitor.Open or ComplianceMonitor.Resolved or "all")) errors.Add("status", "must be 'open' (the default), 'resolved' or 'all'");
        if (listing is { Length: 0 or > 200 }) errors.Add("listing", "must be a listing id or slug of 1-200 characters");
        if (policy is { Length: 0 or > 200 }) errors.Add("policy", "must be a policy id or name of 1-200 characters");
        if (limit is < 1 or > MaxLimit) errors.Add("limit", $"must be between 1 and {MaxLimit}");
        if (offset is < 0) errors.Add("offset", "must not be negative");
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());
        var (rows, total) = await compliance.QueryAsync(status ?? ComplianceMonitor.Open, listing, policy, limit ?? 100, offset ?? 0, context.RequestAborted);
        return TypedResults.Ok(new ViolationPage(rows.Select(static r => r.ToDto()).ToList(), total));
    }
}
