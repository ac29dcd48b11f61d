using Microsoft.AspNetCore.Components.Server.ProtectedBrowserStorage;
using System.Security.Cryptography;

namespace LlmMarketplace.Portal.Client;

/// <summary>Who is signed in on this browser tab: the marketplace tokens and the principal they stand for.</summary>
public sealed record SessionState(string AccessToken, string? RefreshToken, Principal Me);

/// <summary>The caller as <c>GET /api/v1/auth/me</c> answers.</summary>
public sealed record Principal(string Id, string Name, string Credential, IReadOnlyList<string> Roles, IReadOnlyList<string> Teams)
{
    public bool IsAdmin => Roles.Contains("super_admin") || Roles.Contains("admin");

    public bool IsApprover => IsAdmin || Roles.Contains("approver");

    public bool IsViewer => IsApprover || Roles.Contains("viewer");
}

/// <summary>The session of one circuit, kept in the tab's session storage (encrypted with the host's data protection keys).</summary>
internal sealed class PortalSession(ProtectedSessionStorage storage)
{
    private const string StorageKey = "llmm.session";
    private bool _restored;

    public SessionState? State { get; private set; }

    public Principal? Me => State?.Me;

    public bool IsSignedIn => State is not null;

    public event Action? Changed;

    /// <summary>The last key secret created or rotated in this tab, kept in memory only so the playground can use it.</summary>
    public (string Name, string Secret)? LastKey { get; set; }

    public async Task RestoreAsync()
    {
        if (_restored) return;
        _restored = true;
        try
        {
            var stored = await storage.GetAsync<SessionState>(StorageKey);
            State = stored.Success ? stored.Value : null;
        }
        catch (CryptographicException)
        {
            // Stored by an earlier process whose keys are gone: sign in again.
            await storage.DeleteAsync(StorageKey);
        }
        Changed?.Invoke();
    }

    public async Task SetAsync(SessionState? state)
    {
        State = state;
        if (state is null) await storage.DeleteAsync(StorageKey);
        else await storage.SetAsync(StorageKey, state);
        Changed?.Invoke();
    }
}
