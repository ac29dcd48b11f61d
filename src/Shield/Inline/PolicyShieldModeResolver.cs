using LlmMarketplace.Governance.Contracts;
using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Shield.Configuration;

namespace LlmMarketplace.Shield.Inline;

/// <summary>
/// The default resolver: modes from configuration, then the policy engine's content decision for the caller's scopes
/// (global, its teams, its app) on top. Policy wins over configuration: PII handling <c>redact</c> or <c>block</c>
/// sets the PII mode, <c>allow</c> lowers it to at most <c>monitor</c>; content block lists refuse prompts containing
/// a listed term. When no policy says anything, the configured modes apply unchanged.
/// </summary>
internal sealed class PolicyShieldModeResolver(ConfigShieldModeResolver config, IPolicyDecisions policies) : IShieldModeResolver
{

    public ShieldModes Resolve(GatewayCall call)
    {
        var modes = config.Resolve(call);
        var content = policies.Content(call.Caller.TeamIds, call.Caller.AppId);
        return Apply(modes, content);
    }

    internal static ShieldModes Apply(ShieldModes modes, ContentDecision content)
    {
        if (content.Pii == PiiHandling.Unspecified && content.BlockedTerms.Count == 0) return modes;
        var pii = content.Pii switch
        {
            PiiHandling.Allow => modes.Pii > ShieldMode.Monitor ? ShieldMode.Monitor : modes.Pii,
            PiiHandling.Redact => ShieldMode.Redact,
            PiiHandling.Block => ShieldMode.Block,
            _ => modes.Pii,
        };
        var terms = content.BlockedTerms.Count == 0
            ? modes.BlockedTerms
            : content.BlockedTerms
                .Where(static t => !string.IsNullOrWhiteSpace(t))
                .Select(t => new BlockedTerm(t, content.TermSources?.GetValueOrDefault(t) ?? string.Join("; ", content.Reasons)))
                .ToList();
        return modes with
        {
            Pii = pii,
            PiiBecause = content.Pii == PiiHandling.Unspecified ? modes.PiiBecause : content.PiiSource,
            BlockedTerms = terms,
        };
    }
}
