using LlmMarketplace.Gateway.Routing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LlmMarketplace.Gateway.Admin;

/// <summary>The health of every deployment: circuit state, observed latency and success rate.</summary>
public sealed record DeploymentHealthDto(
    string Model,
    string Deployment,
    string Provider,
    string UpstreamModel,
    string? Region,
    string Circuit,
    int ConsecutiveFailures,
    double LatencyEwmaMs,
    double SuccessRate,
    long Requests,
    long Failures);

public sealed record DeploymentListDto(IReadOnlyList<DeploymentHealthDto> Data);

internal static class DeploymentsApi
{
    public static Ok<DeploymentListDto> List(ModelRegistry registry)
    {
        var rows = registry.Models
            .OrderBy(static m => m.Name, StringComparer.Ordinal)
            .SelectMany(static m => m.Deployments.Select(d => ToDto(m, d)))
            .ToList();
        return TypedResults.Ok(new DeploymentListDto(rows));
    }

    public static Results<Ok<DeploymentHealthDto>, NotFound> Reset(string model, string deployment, ModelRegistry registry)
    {
        if (!registry.TryGet(model, out var m) || m.Deployments.FirstOrDefault(d => d.Id == deployment) is not { } d)
        {
            return TypedResults.NotFound();
        }
        d.Health.Circuit.Reset();
        return TypedResults.Ok(ToDto(m, d));
    }

    public static async Task<Results<Ok<DeploymentProbeDto>, NotFound>> ProbeAsync(string model, string deployment, ModelRegistry registry, DeploymentProber prober, CancellationToken cancellationToken)
    {
        // Deployment ids hold a slash (provider/model), sent escaped; routing leaves %2F as it came.
        deployment = Uri.UnescapeDataString(deployment);
        if (!registry.TryGet(model, out var m) || m.Deployments.FirstOrDefault(d => d.Id == deployment) is not { } d)
        {
            return TypedResults.NotFound();
        }
        return TypedResults.Ok(await prober.ProbeAsync(m, d, cancellationToken));
    }

    private static DeploymentHealthDto ToDto(RoutableModel m, RoutableDeployment d) => new(
        m.Name,
        d.Id,
        d.Provider.Name,
        d.Config.UpstreamModel,
        d.Config.Region,
        d.Health.Circuit.State switch { CircuitState.Open => "open", CircuitState.HalfOpen => "half_open", _ => "closed" },
        d.Health.Circuit.ConsecutiveFailures,
        Math.Round(d.Health.LatencyMs, 3),
        Math.Round(d.Health.SuccessRate, 4),
        d.Health.Requests,
        d.Health.Failures);
}
