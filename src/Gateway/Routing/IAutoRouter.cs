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

    /// <summary>
    /// Reviews an answer of a cascaded call (one whose decision named <see cref="AutoRouteDecision.EscalateTo"/>), before
    /// anything reaches the client: the first deployment's answer may be escalated; the answer of the deployment it was
    /// escalated to is shown too (for learning) and always kept. Must not block.
    /// </summary>
    /// <param name="answer">The answer's text (OpenAI's <c>choices[0].message.content</c>).</param>
    /// <param name="finishReason">OpenAI's <c>finish_reason</c> of the answer, when it had one.</param>
    CascadeVerdict Review(GatewayCall call, string deploymentId, string answer, string? finishReason) => CascadeVerdict.Keep;
}

/// <summary>The deployment an <see cref="IAutoRouter"/> chose and why, in words for the <c>x-gateway-route-reason</c> header.</summary>
public sealed record AutoRouteDecision(string DeploymentId, string Reason)
{
    public const string ReasonHeader = "x-gateway-route-reason";

    /// <summary><c>kept</c> or <c>escalated</c>: what a cascade did with the first answer.</summary>
    public const string CascadeHeader = "x-gateway-cascade";

    /// <summary>
    /// Cascade: ask <see cref="DeploymentId"/> first and let <see cref="IAutoRouter.Review"/> decide whether its answer is
    /// kept or the call goes on to this deployment. Only honoured for calls that are not streamed.
    /// </summary>
    public string? EscalateTo { get; init; }
}

/// <summary>What <see cref="IAutoRouter.Review"/> decided; <see cref="Reason"/> replaces the route reason header when set.</summary>
public readonly record struct CascadeVerdict(bool Escalate, string? Reason)
{
    public static CascadeVerdict Keep => default;
}
