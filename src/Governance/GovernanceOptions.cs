namespace LlmMarketplace.Governance;

/// <summary>The <c>Governance</c> configuration section.</summary>
public sealed record GovernanceOptions
{
    public const string SectionName = "Governance";

    /// <summary>Lifetime of access tokens (JWT).</summary>
    public int AccessTokenMinutes { get; init; } = 15;

    /// <summary>Lifetime of a login session's refresh token.</summary>
    public int RefreshTokenHours { get; init; } = 24 * 7;

    /// <summary>Failed logins in a row before the account locks.</summary>
    public int MaxFailedLogins { get; init; } = 5;

    /// <summary>How long a locked account stays locked unless an admin unlocks it.</summary>
    public int LockoutMinutes { get; init; } = 15;

    public int PasswordMinLength { get; init; } = 12;

    /// <summary>Argon2id memory cost in KiB (OWASP: 19 MiB with 2 passes).</summary>
    public int Argon2MemoryKib { get; init; } = 19 * 1024;

    public int Argon2Iterations { get; init; } = 2;

    /// <summary>
    /// Sign-ins with the master key, API keys and service-account tokens, and refused bearer credentials, are audited at
    /// most once per method, outcome, address (and accepted actor) in this interval (they come with every request);
    /// zero audits every one.
    /// </summary>
    public TimeSpan SignInAuditInterval { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>Let gateway calls through when the policy engine fails (default: refuse them).</summary>
    public bool PolicyFailOpen { get; init; }

    /// <summary>The data classification of a gateway call that sends no <c>x-data-classification</c> header.</summary>
    public string DefaultClassification { get; init; } = "internal";

    /// <summary>
    /// Seconds between catch-up reloads of policies, service tokens and revoked sessions from storage: how long a replica
    /// that missed another replica's change message stays stale at most.
    /// </summary>
    public int RefreshSeconds { get; init; } = 30;

    /// <summary>Optional OpenID Connect sign-in; off unless <c>Authority</c> is set.</summary>
    public OidcOptions Oidc { get; init; } = new();
}

/// <summary>The <c>Governance:Oidc</c> section: sign-in with an external identity provider.</summary>
public sealed record OidcOptions
{
    /// <summary>The issuer URL; its <c>/.well-known/openid-configuration</c> names the endpoints and signing keys.</summary>
    public string? Authority { get; init; }

    /// <summary>The client id registered at the provider; id tokens must be issued to it (audience).</summary>
    public string? ClientId { get; init; }

    /// <summary>A reference (<c>env:NAME</c>, <c>file:PATH</c>) to the client secret, for confidential clients.</summary>
    public string? ClientSecret { get; init; }

    /// <summary>Where the provider sends the browser back: this instance's <c>/api/v1/auth/oidc/callback</c>.</summary>
    public string? RedirectUri { get; init; }

    /// <summary>The id-token claim holding role names (mapped to marketplace roles; super_admin is never taken from it).</summary>
    public string RoleClaim { get; init; } = "roles";

    /// <summary>The id-token claim holding team ids.</summary>
    public string TeamClaim { get; init; } = "groups";

    /// <summary>Roles given to a user signing in for the first time when the token names none.</summary>
    public IReadOnlyList<string> DefaultRoles { get; init; } = [];

    public bool Enabled => !string.IsNullOrWhiteSpace(Authority) && !string.IsNullOrWhiteSpace(ClientId);
}
