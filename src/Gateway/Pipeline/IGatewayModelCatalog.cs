using System.Diagnostics.CodeAnalysis;
using LlmMarketplace.Gateway.Configuration;

namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>Read-only view of the models the gateway serves (deployments and prices), for modules that meter or limit calls.</summary>
public interface IGatewayModelCatalog
{
    bool TryGetModel(string name, [NotNullWhen(true)] out ModelConfig? model);
}
