using System.Text.Json.Nodes;

namespace LlmMarketplace.Optimizer.Experiments;

/// <summary>One arm of an experiment: a deployment of the model, a set of request parameters, or both, with its traffic share.</summary>
public sealed record VariantDto(string Name, string? Deployment, JsonObject? Parameters, double Share);

/// <summary>The body of <c>POST /api/v1/experiments</c>.</summary>
public sealed record CreateExperimentRequest(
    string? Name,
    string? Model,
    IReadOnlyList<VariantDto>? Variants,
    string? Allocation,
    string? StickyBy,
    double? MinShare,
    decimal? MaxCostPerCallUsd);

/// <summary>An experiment as the API returns it; <c>shares</c> are the current traffic shares (adaptive ones move).</summary>
public sealed record ExperimentDto(
    string Id,
    string Name,
    string Model,
    string Status,
    string Allocation,
    string StickyBy,
    double MinShare,
    decimal? MaxCostPerCallUsd,
    IReadOnlyList<VariantDto> Variants,
    IReadOnlyList<double> Shares,
    string? Winner,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>The body of <c>POST /api/v1/experiments/{id}/promote</c>; without a variant the best by mean feedback score wins.</summary>
public sealed record PromoteRequest(string? Variant);

internal static class ExperimentStatus
{
    public const string Running = "running";
    public const string Stopped = "stopped";
    public const string Promoted = "promoted";
}

internal static class Allocation
{
    public const string Fixed = "fixed";
    public const string Thompson = "thompson";
}

internal static class StickyBy
{
    /// <summary>The OpenAI <c>user</c> field of the request (an end user or a session id), else the caller's credential.</summary>
    public const string User = "user";

    /// <summary>The caller's credential (user id or API key).</summary>
    public const string Key = "key";
}

/// <summary>A row of <c>insights_experiments</c>.</summary>
internal sealed class ExperimentRow
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string Model { get; set; } = "";
    public string Status { get; set; } = "";
    public string Allocation { get; set; } = "";
    public string StickyBy { get; set; } = "";
    public double MinShare { get; set; }
    public decimal? MaxCostPerCall { get; set; }
    public string Variants { get; set; } = "[]";
    public string? Winner { get; set; }
    public string CreatedBy { get; set; } = "";
    public long CreatedMs { get; set; }
    public long UpdatedMs { get; set; }
}

/// <summary>One call's variant and guard metrics (a row of <c>insights_experiment_calls</c>) joined with its feedback score.</summary>
internal sealed class ExperimentCallRow
{
    public string Variant { get; set; } = "";
    public long Status { get; set; }
    public decimal CostUsd { get; set; }
    public double LatencyMs { get; set; }
    public double? Score { get; set; }
}
