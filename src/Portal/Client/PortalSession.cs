using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.JSInterop;

namespace LlmMarketplace.Portal.Client;

/// <summary>Who is signed in on this browser: the marketplace tokens and the principal they stand for.</summary>
public sealed record SessionState(string AccessToken, string? RefreshToken, Principal Me);

/// <summary>The caller as <c>GET /api/v1/auth/me</c> answers.</summary>
public sealed record Principal(string Id, string Name, string Credential, IReadOnlyList<string> Roles, IReadOnlyList<string> Teams)
{
    public bool IsAdmin => Roles.Contains("super_admin") || Roles.Contains("admin");

    public bool IsApprover => IsAdmin || Roles.Contains("approver");

    public bool IsViewer => IsApprover || Roles.Contains("viewer");
}

/// <summary>
/// The session of one request or circuit. It lives in an HTTP-only cookie, encrypted with the data protection keys
/// every replica shares, so a page rendered on the server knows who asks before any script runs; a live circuit reads
/// the same cookie from the connection that opened it (see <see cref="SessionCookie"/>).
/// </summary>
internal sealed class PortalSession(IHttpContextAccessor http, AuthenticationStateProvider auth, SessionCookie cookie, IJSRuntime js)
{
    private bool _loaded;
    private SessionState? _state;

    public SessionState? State
    {
        get
        {
            Load();
            return _state;
        }
    }

    public Principal? Me => State?.Me;

    public bool IsSignedIn => State is not null;

    /// <summary>The last key secret created or rotated in this circuit, kept in memory only so the playground can use it.</summary>
    public (string Name, string Secret)? LastKey { get; set; }

    private void Load()
    {
        if (_loaded) return;
        _loaded = true;
        var raw = http.HttpContext?.Request.Cookies[SessionCookie.Name];
        if (raw is null)
        {
            // In a circuit: the connection's cookie, carried as a claim (the task is complete by then).
            var state = auth.GetAuthenticationStateAsync();
            if (state.IsCompletedSuccessfully) raw = state.Result.User.FindFirst(SessionCookie.ClaimType)?.Value;
        }
        _state = cookie.Read(raw);
    }

    /// <summary>
    /// Starts, renews or ends the session. Rendered on the server, the answer carries the cookie; in a circuit, the
    /// browser stores the renewed (encrypted) cookie through <c>POST /portal/session</c>, so a refreshed token survives
    /// the next page.
    /// </summary>
    public async Task SetAsync(SessionState? state)
    {
        _loaded = true;
        _state = state;
        if (http.HttpContext is { Response.HasStarted: false } context && !context.WebSockets.IsWebSocketRequest)
        {
            cookie.Write(context, state);
            return;
        }
        try
        {
            await js.InvokeVoidAsync("llmmPortal.keepSession", state is null ? "" : cookie.Protect(state));
        }
        catch (JSException)
        {
            // The browser refused: the session still holds in this circuit.
        }
        catch (InvalidOperationException)
        {
            // No browser to talk to (rendered after the answer started): the session still holds for this page.
        }
    }
}

/// <summary>The session cookie: its name, its protection, and how a circuit sees it.</summary>
internal sealed class SessionCookie(IDataProtectionProvider protection)
{
    public const string Name = "llmm.session";

    /// <summary>The claim under which the connection of a live circuit carries the (still encrypted) cookie.</summary>
    public const string ClaimType = "llmm.portal.session";

    private readonly IDataProtector _protector = protection.CreateProtector("LlmMarketplace.Portal.Session");

    public string Protect(SessionState state) => _protector.Protect(JsonSerializer.Serialize(state, PortalApi.Json));

    public SessionState? Read(string? raw)
    {
        if (string.IsNullOrEmpty(raw)) return null;
        try
        {
            return JsonSerializer.Deserialize<SessionState>(_protector.Unprotect(raw), PortalApi.Json);
        }
        catch (CryptographicException)
        {
            // Written with keys that are gone, or tampered with: sign in again.
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public void Write(HttpContext context, SessionState? state) => WriteRaw(context, state is null ? null : Protect(state));

    /// <summary>Sets (or, with null, deletes) the cookie: HTTP-only, same-site, secure on HTTPS, gone when the browser closes.</summary>
    public static void WriteRaw(HttpContext context, string? raw)
    {
        var options = new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Lax, Secure = context.Request.IsHttps, Path = "/", IsEssential = true };
        if (raw is null) context.Response.Cookies.Delete(Name, options);
        else context.Response.Cookies.Append(Name, raw, options);
    }

    /// <summary>The connection of a circuit carries the cookie as a claim, which the circuit's authentication state hands on.</summary>
    public static ClaimsPrincipal Principal(string raw) => new(new ClaimsIdentity([new Claim(ClaimType, raw)], "llmm.portal"));
}
