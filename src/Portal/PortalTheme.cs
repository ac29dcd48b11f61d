using MudBlazor;

namespace LlmMarketplace.Portal;

/// <summary>
/// MudBlazor's palette with every colour that carries text dark enough for WCAG 2 AA contrast (4.5:1) against white,
/// and white on it: the defaults' pink, green, orange, blue and red do not reach it (checked with axe in the browser tests).
/// </summary>
public static class PortalTheme
{
    public static readonly MudTheme Value = new()
    {
        PaletteLight = new PaletteLight
        {
            Secondary = "#ad1457",
            Tertiary = "#00695c",
            Info = "#1565c0",
            Success = "#2e7d32",
            Warning = "#a35200",
            Error = "#c62828",
            TextSecondary = "rgba(0,0,0,0.68)",
            ActionDefault = "rgba(0,0,0,0.68)",
        },
    };
}
