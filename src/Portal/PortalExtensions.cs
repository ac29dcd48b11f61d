using LlmMarketplace.Portal.Client;
using LlmMarketplace.Portal.Components;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.StaticWebAssets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using MudBlazor.Services;

namespace LlmMarketplace.Portal;

/// <summary>The web portal: Blazor components rendered interactively on the server, served at <c>/</c> by the same host.</summary>
public static class PortalExtensions
{
    public static IHostApplicationBuilder AddPortal(this IHostApplicationBuilder builder)
    {
        UseBuildOutputAssets(builder);
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddMudServices();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<PortalHttp>();
        builder.Services.TryAddScoped<PortalSession>();
        builder.Services.TryAddScoped<PortalApi>();
        return builder;
    }

    /// <summary>
    /// Run from the build output (not published), MudBlazor's and the portal's files stay where the build put them;
    /// the runtime manifest says where. The host is named after its own assembly rather than the entry assembly so
    /// that a test host finds the manifest too.
    /// </summary>
    private static void UseBuildOutputAssets(IHostApplicationBuilder builder)
    {
        var manifest = Path.Combine(AppContext.BaseDirectory, PortalAssets.RuntimeManifestFileName);
        if (!File.Exists(manifest) || builder.Environment is not IWebHostEnvironment web) return;
        builder.Configuration[WebHostDefaults.StaticWebAssetsKey] = manifest;
        // Serve only the assets the manifest lists, as published output does: no catch-all {**path:file} fallback
        // route, which would sit outside the portal's endpoint conventions (anonymous, not in the API document).
        builder.Configuration["DisableStaticAssetNotFoundRuntimeFallback"] ??= "true";
        StaticWebAssetsLoader.UseStaticWebAssets(web, builder.Configuration);
    }

    /// <summary>Maps the portal's pages, the Blazor hub and the static assets; none of them is part of the API document.</summary>
    public static WebApplication MapPortal(this WebApplication app)
    {
        app.UseAntiforgery();
        var manifest = Path.Combine(AppContext.BaseDirectory, PortalAssets.ManifestFileName);
        (File.Exists(manifest) ? app.MapStaticAssets(manifest) : app.MapStaticAssets())
            .AllowAnonymous().ExcludeFromDescription();
        app.MapRazorComponents<App>()
            .AddInteractiveServerRenderMode()
            .AllowAnonymous()
            .ExcludeFromDescription();
        return app;
    }
}

internal static class PortalAssets
{
    /// <summary>The development manifest mapping asset paths to where the build left them (absent from published output).</summary>
    public const string RuntimeManifestFileName = "llm-marketplace.staticwebassets.runtime.json";

    /// <summary>The static web assets manifest of the host assembly (named after it, not after the entry assembly, so tests find it too).</summary>
    public const string ManifestFileName = "llm-marketplace.staticwebassets.endpoints.json";
}
