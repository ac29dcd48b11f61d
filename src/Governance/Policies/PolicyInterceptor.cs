using LlmMarketplace.Catalog.Contracts;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Routing;

namespace LlmMarketplace.Governance.Policies;

/// <summary>
/// Applies policy to every gateway call from the in-memory snapshot: refuses denied models and over-classified data
/// (403 in OpenAI's envelope with the policy's reasons) and narrows routing to compliant deployments (data residency).
/// For a catalog listing it also refuses data above the listing's <c>maxDataClassification</c>, listings lacking a
/// certification or zero retention an applicable policy requires, and listing versions suspended by a policy.
/// </summary>
internal sealed class PolicyInterceptor(
    PolicyEngine engine, IDeploymentDirectory deployments, GovernanceOptions options, GovernanceMetrics metrics, ComplianceMonitor compliance,
    ILogger<PolicyInterceptor> logger, IListingDirectory? listings = null)
    : IGatewayInterceptor
{
    public GatewayStage Stage => GatewayStage.Policy;

    public const string ClassificationHeader = "x-data-classification";

    /// <summary>The refusal code of a call whose data is classified above what the listing accepts.</summary>
    public const string ClassificationExceedsListing = "classification_exceeds_listing";

    /// <summary>The refusal code of a call to a listing version a policy suspended.</summary>
    public const string ListingSuspended = "listing_suspended";

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
        // The operator's configured models are listed by the platform without declared facts: only catalog listings are judged by theirs.
        var listing = listings?.FindByModel(call.Model) is { } found && found.Publisher != ComplianceMonitor.PlatformPublisher ? found : null;
        if (listing is not null)
        {
            if (compliance.Suspension(listing.ListingId, listing.Version) is { } why)
            {
                return Deny(call, new GatewayRejection(403, $"The listing '{listing.Name}' is suspended by policy: {why}. It is reinstated when it complies again or the policy is lifted.",
                    "permission_error", ListingSuspended, "model"));
            }
            if (Classifications.Rank(listing.Compliance.MaxDataClassification) is { } accepted && rank > accepted)
            {
                return Deny(call, new GatewayRejection(403,
                    $"Data classified '{Classifications.Levels[rank]}' may not be sent to '{listing.Name}': the listing accepts data classified at most '{Classifications.Levels[accepted]}'"
                    + (call.Header(ClassificationHeader) is { Length: > 0 } ? "." : $" (the classification was not stated in the {ClassificationHeader} header, so the default '{Classifications.Levels[rank]}' applies)."),
                    "permission_error", ClassificationExceedsListing, ClassificationHeader));
            }
        }
        PolicyDecision decision;
        try
        {
            var request = new PolicyRequest(call.Model, call.Caller.TeamIds, call.Caller.AppId, Classifications.Levels[rank]);
            decision = engine.Snapshot.Evaluate(request, deployments.DeploymentsOf(call.Model), rank, listing?.Compliance);
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
            return Reject(new GatewayRejection(403, "Refused by policy: " + string.Join("; ", decision.Reasons) + ".", "permission_error", decision.Code, decision.Code is "model_not_allowed" or PolicySnapshot.ListingNotCompliant ? "model" : null));
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

    private ValueTask<GatewayRejection?> Deny(GatewayCall call, GatewayRejection rejection)
    {
        metrics.PolicyDecision("denied");
        Log.PolicyDenied(logger, call.RequestId);
        return Reject(rejection);
    }
}
