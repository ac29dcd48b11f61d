namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>
/// The stages of the gateway's pipeline that modules plug interceptors into, in the order they run. Between
/// <see cref="Routing"/> and <see cref="Metering"/> the engine itself looks up the response cache and dispatches
/// (retries, fallback, circuit breakers); those steps are the gateway's own and take no interceptors.
/// </summary>
public enum GatewayStage
{
    /// <summary>Who is calling: the key, app, team and user behind the credential (Access).</summary>
    Caller = 100,

    /// <summary>What the caller may do: model and data-classification policy, residency narrowing the deployments (Governance).</summary>
    Policy = 200,

    /// <summary>How much: model scope, subscriptions, rate limits and budgets, reserved before and settled after (Access).</summary>
    Limits = 300,

    /// <summary>What the request says: inline content checks that may refuse or rewrite it (Shield).</summary>
    Content = 400,

    /// <summary>Where it goes: listing resolution and deprecation headers (Catalog), experiments narrowing the deployments (Insights).</summary>
    Routing = 500,

    /// <summary>Observers of the outcome: metrics, trending, the auto-router's feedback (Insights, Catalog).</summary>
    Metering = 900,
}

/// <summary>
/// The interceptors of every module in pipeline order: by <see cref="IGatewayInterceptor.Stage"/>, and within a stage by
/// the interceptor type's full name (a declared, registration-independent tie-break).
/// </summary>
public sealed class GatewayInterceptors
{
    public GatewayInterceptors(IEnumerable<IGatewayInterceptor> interceptors)
    {
        Ordered = interceptors
            .OrderBy(static i => i.Stage)
            .ThenBy(static i => i.GetType().FullName, StringComparer.Ordinal)
            .ToArray();
    }

    /// <summary>The interceptors in the order their <c>BeforeAsync</c>, <c>InspectCompletionAsync</c> and <c>AfterAsync</c> run.</summary>
    public IReadOnlyList<IGatewayInterceptor> Ordered { get; }

    /// <summary>The span name of a stage's admission step.</summary>
    public static string SpanName(GatewayStage stage) => stage switch
    {
        GatewayStage.Caller => "gateway.auth",
        GatewayStage.Policy => "gateway.policy",
        GatewayStage.Limits => "gateway.limits",
        GatewayStage.Content => "gateway.shield",
        GatewayStage.Routing => "gateway.route_filter",
        GatewayStage.Metering => "gateway.metering",
        _ => "gateway.stage " + stage,
    };
}
