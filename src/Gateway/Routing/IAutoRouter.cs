using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Gateway.Routing;

/// <summary>
/// Chooses the deployment of a model with <c>Routing: auto</c> for one call (the optimizer implements it). Called after
/// the interceptors admitted the call and the route filters narrowed the candidates; must not block.
/// </summary>
public interface IAutoRouter
{
    /// <param name="call">The call, with its request body and request id.</param>
    /// <param name="model">The model's configuration (its <see cref="ModelConfig.QualityTarget"/>).</param>
    /// <param name="candidates">The deployments the call may use, at least two, cheapest first.</param>
    AutoRouteDecision Choose(GatewayCall call, ModelConfig model, IReadOnlyList<DeploymentConfig> candidates);
}

/// <summary>The deployment an <see cref="IAutoRouter"/> chose and why, in words for the <c>x-gateway-route-reason</c> header.</summary>
public sealed record AutoRouteDecision(string DeploymentId, string Reason)
{
    public const string ReasonHeader = "x-gateway-route-reason";
}
