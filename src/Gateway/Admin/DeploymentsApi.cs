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
        if (Find(registry, model, deployment) is not ({ } m, { } d))
        {
            return TypedResults.NotFound();
        }
        d.Health.Circuit.Reset();
        return TypedResults.Ok(ToDto(m, d));
    }

    public static async Task<Results<Ok<DeploymentProbeDto>, NotFound>> ProbeAsync(string model, string deployment, ModelRegistry registry, DeploymentProber prober, CancellationToken cancellationToken)
    {
        if (Find(registry, model, deployment) is not ({ } m, { } d))
        {
            return TypedResults.NotFound();
        }
        return TypedResults.Ok(await prober.ProbeAsync(m, d, cancellationToken));
    }

    /// <summary>
    /// The model and deployment a <c>/deployments/{model}/{deployment}/...</c> route names. Deployment ids hold a slash
    /// (provider/model) and model names may, sent escaped; routing leaves %2F as it came, so both are unescaped here.
    /// </summary>
    private static (RoutableModel Model, RoutableDeployment Deployment)? Find(ModelRegistry registry, string model, string deployment)
    {
        var id = Uri.UnescapeDataString(deployment);
        return registry.TryGet(Uri.UnescapeDataString(model), out var m) && m.Deployments.FirstOrDefault(d => d.Id == id) is { } d ? (m, d) : null;
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
