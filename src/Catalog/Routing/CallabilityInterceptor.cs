using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Catalog.Routing;

/// <summary>
/// Refuses a call to a listing version that is not callable (<see cref="Callability"/>) before routing, with a 503 in
/// OpenAI's envelope naming what is missing, instead of forwarding it without a credential and answering the
/// upstream's refusal as a 502. No deployment is reached, so the call does not count against the listing's measured
/// uptime.
/// </summary>
internal sealed class CallabilityInterceptor(CatalogState state) : IGatewayInterceptor
{
    public const string Code = "model_not_callable";

    public GatewayStage Stage => GatewayStage.Routing;

    public ValueTask<GatewayRejection?> BeforeAsync(GatewayCall call, CancellationToken cancellationToken)
    {
        var snapshot = state.Current;
        if (snapshot.TryResolveModel(call.Model, out _, out var version) && version is not null && Callability.NotCallableReason(version.Spec, snapshot) is { } reason)
        {
            return ValueTask.FromResult<GatewayRejection?>(new GatewayRejection(503,
                $"The model '{call.Model}' is not callable: {reason}. An administrator sets the credential (an environment variable on every replica, or a secret with PUT /api/v1/secrets/NAME).",
                "server_error", Code, "model"));
        }
        return ValueTask.FromResult<GatewayRejection?>(null);
    }

    public ValueTask AfterAsync(GatewayCall call, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>
/// <c>GET /v1/models</c> lists each catalog model once and only when it can be called: pinned versions
/// (<c>slug@version</c>) stay callable but are not listed beside their slug, and versions without a usable credential
/// are left out.
/// </summary>
internal sealed class CatalogModelVisibility(CatalogState state) : IModelVisibility
{
    public bool IsVisible(ClaimsPrincipal user, string model) => true;

    public bool IsListed(ClaimsPrincipal user, string model)
    {
        var snapshot = state.Current;
        if (!snapshot.TryResolveModel(model, out var entry, out var version) || version is null) return true;
        if (!string.Equals(model, entry.Service.Slug, StringComparison.Ordinal)) return false;
        return Callability.NotCallableReason(version.Spec, snapshot) is null;
    }
}
