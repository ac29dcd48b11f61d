using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Access.Keys;

/// <summary><c>/v1/models</c> lists, for an API key narrowed to models, only those models.</summary>
internal sealed class KeyModelVisibility(AccessDirectory directory) : IModelVisibility
{
    public bool IsVisible(ClaimsPrincipal user, string model) =>
        user.FindFirst(MarketplaceClaims.KeyId)?.Value is not { } keyId
        || !directory.Current.KeysById.TryGetValue(keyId, out var key)
        || key.Models is null
        || key.Models.Contains(model);
}
