using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Governance.Telemetry;
using Microsoft.Extensions.Logging;

namespace LlmMarketplace.Governance.Policies;

/// <summary>
/// Applies policy to every gateway call from the in-memory snapshot: refuses denied models and over-classified data
/// (403 in OpenAI's envelope with the policy's reasons) and narrows routing to compliant deployments (data residency).
/// </summary>
internal sealed class PolicyInterceptor(
    PolicyEngine engine, IDeploymentDirectory deployments, GovernanceOptions options, GovernanceMetrics metrics, ILogger<PolicyInterceptor> logger)
    : IGatewayInterceptor
{
    public GatewayStage Stage => GatewayStage.Policy;

    public const string ClassificationHeader = "x-data-classification";

    public ValueTask<GatewayRejection?> BeforeAsync(GatewayCall call, CancellationToken cancellationToken)
    {
        int rank = engine.DefaultClassificationRank;
        if (call.Header(ClassificationHeader) is { Length: > 0 } header)
        {
            if (Classifications.Rank(header) is not { } r)
            {
                return Reject(new GatewayRejection(400, $"'{header}' is not a data classification; use {string.Join(", ", Classifications.Levels)}.", "invalid_request_error", "invalid_classification", ClassificationHeader));
            }
            rank = r;
        }
        PolicyDecision decision;
        try
        {
            var request = new PolicyRequest(call.Model, call.Caller.TeamIds, call.Caller.AppId, Classifications.Levels[rank]);
            decision = engine.Snapshot.Evaluate(request, deployments.DeploymentsOf(call.Model), rank);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            metrics.PolicyDecision("error");
            Log.PolicyEvaluationFailed(logger, ex, call.RequestId, options.PolicyFailOpen ? "allowed (fail-open)" : "refused (fail-closed)");
            return options.PolicyFailOpen
                ? ValueTask.FromResult<GatewayRejection?>(null)
                : Reject(new GatewayRejection(503, "The policy engine is unavailable, so the request was refused. Try again later or ask an administrator.", "server_error", "policy_engine_unavailable"));
        }
        if (!decision.Allowed)
        {
            metrics.PolicyDecision("denied");
            Log.PolicyDenied(logger, call.RequestId);
            return Reject(new GatewayRejection(403, "Refused by policy: " + string.Join("; ", decision.Reasons) + ".", "permission_error", decision.Code, decision.Code == "model_not_allowed" ? "model" : null));
        }
        metrics.PolicyDecision("allowed");
        if (decision.AllowedDeployments is { } allowed)
        {
            call.AllowedDeployments = call.AllowedDeployments is { } earlier ? earlier.Intersect(allowed, StringComparer.Ordinal).ToList() : allowed;
        }
        return ValueTask.FromResult<GatewayRejection?>(null);
    }

    public ValueTask AfterAsync(GatewayCall call, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    private static ValueTask<GatewayRejection?> Reject(GatewayRejection rejection) => ValueTask.FromResult<GatewayRejection?>(rejection);
}
