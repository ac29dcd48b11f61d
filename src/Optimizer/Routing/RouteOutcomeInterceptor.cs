using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Optimizer.Routing;

/// <summary>Tells the auto-router which deployment answered a call it routed (a fallback may differ) and whether it succeeded.</summary>
internal sealed class RouteOutcomeInterceptor(QualityRouter router) : IGatewayInterceptor
{
    public GatewayStage Stage => GatewayStage.Metering;

    public ValueTask<GatewayRejection?> BeforeAsync(GatewayCall call, CancellationToken cancellationToken) => ValueTask.FromResult<GatewayRejection?>(null);

    public ValueTask AfterAsync(GatewayCall call, CancellationToken cancellationToken)
    {
        router.Completed(call.RequestId, call.Deployment, call.Status);
        return ValueTask.CompletedTask;
    }
}
