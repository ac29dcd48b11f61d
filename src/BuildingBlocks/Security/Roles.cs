namespace LlmMarketplace.BuildingBlocks.Security;

/// <summary>The marketplace's roles.</summary>
public static class Roles
{
    public const string SuperAdmin = "super_admin";
    public const string Admin = "admin";
    public const string Approver = "approver";
    public const string Viewer = "viewer";
    public const string ServiceAccount = "service_account";

    public static readonly IReadOnlyList<string> All = [SuperAdmin, Admin, Approver, Viewer, ServiceAccount];
}

/// <summary>Authorization policy names shared by the modules.</summary>
public static class Policies
{
    /// <summary>Any authenticated caller (API key, token or master key).</summary>
    public const string Authenticated = "authenticated";

    /// <summary>Operators: super_admin and admin.</summary>
    public const string Admin = "admin";
}

/// <summary>Claim types the marketplace puts on its principals.</summary>
public static class MarketplaceClaims
{
    public const string CredentialKind = "llmm:credential";
    public const string MasterKey = "master_key";
}
