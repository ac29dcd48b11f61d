using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;

namespace LlmMarketplace.Portal.Components;

/// <summary>How the portal's interactive pages render: live over the circuit, without a prerender whose inputs would not answer yet.</summary>
internal static class PortalRenderModes
{
    public static readonly IComponentRenderMode Interactive = new InteractiveServerRenderMode(prerender: false);
}
