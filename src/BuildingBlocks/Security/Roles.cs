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

    /// <summary>Only super_admin (granting super_admin, erasing people).</summary>
    public const string SuperAdmin = "super_admin_only";

    /// <summary>Approvers and operators: approver, admin, super_admin.</summary>
    public const string Approver = "approver";

    /// <summary>Read access to management data: viewer, approver, admin, super_admin.</summary>
    public const string Viewer = "viewer";
}

/// <summary>Claim types the marketplace puts on its principals.</summary>
public static class MarketplaceClaims
{
    /// <summary>How the caller authenticated: <see cref="MasterKey"/>, <see cref="ApiKeyCredential"/>, <see cref="AccessToken"/>.</summary>
    public const string CredentialKind = "llmm:credential";
    public const string MasterKey = "master_key";
    public const string ApiKeyCredential = "api_key";
    public const string AccessToken = "access_token";

    /// <summary>The user id (Governance) of the caller or of the key's owner.</summary>
    public const string UserId = "llmm:user";

    /// <summary>A team id the caller belongs to (repeated for several teams).</summary>
    public const string TeamId = "llmm:team";

    /// <summary>The app id of an API key that belongs to an app.</summary>
    public const string AppId = "llmm:app";

    /// <summary>The API key id.</summary>
    public const string KeyId = "llmm:key";
}
