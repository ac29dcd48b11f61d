using LlmMarketplace.Portal.Client;
using LlmMarketplace.Portal.Components;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.StaticWebAssets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
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
        builder.Services.AddHttpContextAccessor();
        builder.Services.TryAddSingleton<SessionCookie>();
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
        // A live circuit has no request of its own: the connection that opens it carries the session cookie, which
        // becomes the circuit's authentication state (read by PortalSession). Only the Blazor hub is touched.
        app.UseWhen(static c => c.Request.Path.StartsWithSegments("/_blazor"), static hub => hub.Use(static (context, next) =>
        {
            if (context.Request.Cookies[SessionCookie.Name] is { Length: > 0 } raw) context.User = SessionCookie.Principal(raw);
            return next(context);
        }));
        app.UseAntiforgery();
        var portal = app.MapGroup("/portal").AllowAnonymous().ExcludeFromDescription();
        portal.MapPost("/sign-out", SignOutAsync);
        portal.MapPost("/session", KeepSession);
        portal.MapGet("/suggestions", SuggestAsync);
        portal.MapGet("/statements.csv", StatementDownload.GetAsync);
        var manifest = Path.Combine(AppContext.BaseDirectory, PortalAssets.ManifestFileName);
        (File.Exists(manifest) ? app.MapStaticAssets(manifest) : app.MapStaticAssets())
            .AllowAnonymous().ExcludeFromDescription();
        app.MapRazorComponents<App>()
            .AddInteractiveServerRenderMode()
            .AllowAnonymous()
            .ExcludeFromDescription();
        return app;
    }

    /// <summary>Signs out: the API revokes the tokens, the cookie goes, the person lands on the sign-in page.</summary>
    private static async Task<IResult> SignOutAsync(HttpContext context, IAntiforgery antiforgery, SessionCookie cookie, PortalApi api)
    {
        if (!await antiforgery.IsRequestValidAsync(context)) return TypedResults.Problem("The sign-out form has expired: reload the page and sign out again.", statusCode: 400);
        if (cookie.Read(context.Request.Cookies[SessionCookie.Name]) is { } state) await api.RevokeAsync(state, context.RequestAborted);
        SessionCookie.WriteRaw(context, null);
        return TypedResults.Redirect("/login");
    }

    /// <summary>
    /// Stores a session renewed inside a live circuit (already encrypted; empty ends it). Only the portal's own script
    /// sends the header, which a cross-site form cannot.
    /// </summary>
    private static IResult KeepSession(HttpContext context, SessionCookie cookie, [FromBody] KeepSessionRequest body)
    {
        if (context.Request.Headers["X-Llmm-Portal"] != "1") return TypedResults.Problem("Only the portal stores its session.", statusCode: 400);
        if (string.IsNullOrEmpty(body.Session))
        {
            SessionCookie.WriteRaw(context, null);
            return TypedResults.NoContent();
        }
        if (cookie.Read(body.Session) is null) return TypedResults.Problem("That is not a session of this marketplace.", statusCode: 400);
        SessionCookie.WriteRaw(context, body.Session);
        return TypedResults.NoContent();
    }

    /// <summary>Search suggestions as the signed-in person (or anyone, when browsing is public) may see them.</summary>
    private static async Task<IResult> SuggestAsync(string? q, PortalApi api, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(q)) return TypedResults.Json(Array.Empty<string>());
        var page = await api.GetAsync<AutocompletePage>("api/v1/autocomplete?limit=8&q=" + Uri.EscapeDataString(q.Trim()), ct);
        return TypedResults.Json(page?.Suggestions.Select(static s => s.Name).Distinct().ToArray() ?? []);
    }
}

internal sealed record KeepSessionRequest(string? Session);

internal static class PortalAssets
{
    /// <summary>The development manifest mapping asset paths to where the build left them (absent from published output).</summary>
    public const string RuntimeManifestFileName = "llm-marketplace.staticwebassets.runtime.json";

    /// <summary>The static web assets manifest of the host assembly (named after it, not after the entry assembly, so tests find it too).</summary>
    public const string ManifestFileName = "llm-marketplace.staticwebassets.endpoints.json";
}
