using System.Diagnostics.CodeAnalysis;
using LlmMarketplace.Gateway.Configuration;

namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>Read-only view of the models the gateway serves (deployments and prices), for modules that meter or limit calls.</summary>
public interface IGatewayModelCatalog
{
    bool TryGetModel(string name, [NotNullWhen(true)] out ModelConfig? model);
}

/// <summary>Hides models a caller may not use from <c>/v1/models</c> (for example those outside an API key's scope).</summary>
public interface IModelVisibility
{
    bool IsVisible(System.Security.Claims.ClaimsPrincipal user, string model);

    /// <summary>Whether the model appears in the <c>GET /v1/models</c> list (a visible model may be left out of it, e.g. a pinned version of another).</summary>
    bool IsListed(System.Security.Claims.ClaimsPrincipal user, string model) => IsVisible(user, model);
}
