namespace LlmMarketplace.Shield.Detection;

/// <summary>What the shield found: a type, its character span in the scanned text (<c>End</c> exclusive) and a confidence in [0, 1].</summary>
public sealed record Finding(string Type, int Start, int End, double Score);

/// <summary>The finding types and the detector group each belongs to.</summary>
public static class FindingTypes
{
    public const string PromptInjection = "prompt_injection";
    public const string Jailbreak = "jailbreak";
    public const string Email = "email";
    public const string Phone = "phone";
    public const string CreditCard = "credit_card";
    public const string Iban = "iban";
    public const string UsSsn = "us_ssn";
    public const string IpAddress = "ip_address";
    public const string Secret = "secret";

    /// <summary>A term of a policy's content block list (gateway path only; not a detector, not in <see cref="All"/>).</summary>
    public const string BlockedTerm = "blocked_term";

    public static readonly IReadOnlyList<string> All = [PromptInjection, Jailbreak, Email, Phone, CreditCard, Iban, UsSsn, IpAddress, Secret];

    public static DetectorGroup GroupOf(string type) => type switch
    {
        PromptInjection or Jailbreak => DetectorGroup.Injection,
        Secret => DetectorGroup.Secrets,
        _ => DetectorGroup.Pii,
    };

    /// <summary>The placeholder that replaces a redacted span, e.g. <c>[EMAIL]</c>.</summary>
    public static string Placeholder(string type) => type switch
    {
        Email => "[EMAIL]",
        Phone => "[PHONE]",
        CreditCard => "[CREDIT_CARD]",
        Iban => "[IBAN]",
        UsSsn => "[US_SSN]",
        IpAddress => "[IP_ADDRESS]",
        Secret => "[SECRET]",
        _ => "[REDACTED]",
    };
}

/// <summary>Detectors are switched per group: injection (prompt injection and jailbreak), personal data, secrets.</summary>
public enum DetectorGroup
{
    Injection,
    Pii,
    Secrets,
}
