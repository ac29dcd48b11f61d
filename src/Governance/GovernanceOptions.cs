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

    /// <summary>Let gateway calls through when the policy engine fails (default: refuse them).</summary>
    public bool PolicyFailOpen { get; init; }

    /// <summary>The data classification of a gateway call that sends no <c>x-data-classification</c> header.</summary>
    public string DefaultClassification { get; init; } = "internal";
}
