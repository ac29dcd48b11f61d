namespace LlmMarketplace.Insights.Sla;

public sealed record SlaStatusResult(IReadOnlyList<SlaMeasurement> Data);

public sealed record SlaViolationsResult(IReadOnlyList<SlaViolation> Data);

/// <summary><c>GET /api/v1/sla</c> (measurements against targets now) and <c>GET /api/v1/sla/violations</c>.</summary>
internal static class SlaApi
{
    public static async Task<IResult> StatusAsync(string? listing, SlaTracker tracker, CancellationToken cancellationToken) =>
        TypedResults.Ok(new SlaStatusResult(await tracker.MeasureAsync(Blank(listing), cancellationToken)));

    public static async Task<IResult> ViolationsAsync(string? listing, bool? open, int? limit, SlaTracker tracker, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        if (limit is < 1 or > 10_000) errors.Add("limit", "limit must be between 1 and 10000.");
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());
        return TypedResults.Ok(new SlaViolationsResult(await tracker.ViolationsAsync(Blank(listing), open ?? false, limit ?? 100, cancellationToken)));
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
