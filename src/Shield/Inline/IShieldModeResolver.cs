using System.Security.Claims;
using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Shield.Configuration;

namespace LlmMarketplace.Shield.Inline;

/// <summary>
/// Decides the shield's modes for one gateway call. The default reads the <c>Shield</c> configuration; the policy
/// engine can replace it (register its own implementation before <c>AddShield</c>) to set PII handling per scope.
/// </summary>
public interface IShieldModeResolver
{
    ShieldModes Resolve(GatewayCall call);
}

/// <summary>Modes from configuration: the defaults, overridden by matching scopes from least to most specific (team, model, model and team).</summary>
internal sealed class ConfigShieldModeResolver(ShieldSettings settings) : IShieldModeResolver
{
    private readonly ShieldScope[] _scopes = settings.Scopes.OrderBy(static s => s.Specificity).ToArray();

    public ShieldModes Resolve(GatewayCall call) => Resolve(call.Model, call.User);

    internal ShieldModes Resolve(string model, ClaimsPrincipal user)
    {
        var modes = settings.Defaults;
        foreach (var scope in _scopes)
        {
            if (scope.Model is not null && !string.Equals(scope.Model, model, StringComparison.Ordinal)) continue;
            if (scope.Team is not null && !user.HasClaim(MarketplaceClaims.TeamId, scope.Team)) continue;
            modes = new ShieldModes(scope.Injection ?? modes.Injection, scope.Pii ?? modes.Pii, scope.Secrets ?? modes.Secrets);
        }
        return modes;
    }
}
