using System.Security.Claims;
using LlmMarketplace.BuildingBlocks.Security;

namespace LlmMarketplace.Access.Teams;

/// <summary>
/// Who is calling a management endpoint, from claims only: admins (master key, admin roles) manage everything;
/// anyone else sees and acts within the teams in their <see cref="MarketplaceClaims.TeamId"/> claims.
/// </summary>
internal readonly record struct Caller(ClaimsPrincipal Principal)
{
    public bool IsAdmin => Principal.IsInRole(Roles.SuperAdmin) || Principal.IsInRole(Roles.Admin);

    public bool IsSuperAdmin => Principal.IsInRole(Roles.SuperAdmin);

    public bool IsApprover => IsAdmin || Principal.IsInRole(Roles.Approver);

    /// <summary>API keys read within their team but never mint or revoke credentials; people (tokens) and admins do.</summary>
    public bool IsPerson => !Principal.HasClaim(MarketplaceClaims.CredentialKind, MarketplaceClaims.ApiKeyCredential);

    public IReadOnlyList<string> TeamIds => Principal.FindAll(MarketplaceClaims.TeamId).Select(static c => c.Value).ToList();

    /// <summary>The person's (or service account's) own id; null for API keys, whose user claim names their owner, not the caller.</summary>
    public string? UserId => IsPerson ? Principal.FindFirst(MarketplaceClaims.UserId)?.Value : null;

    /// <summary>The user the caller acts for: the person, or an API key's owner.</summary>
    public string? OwnerId => Principal.FindFirst(MarketplaceClaims.UserId)?.Value;

    /// <summary>The caller's id for records: an API key is itself (<c>key:ID</c>), never its owner.</summary>
    public string Actor => (IsPerson ? Principal.FindFirst(MarketplaceClaims.UserId)?.Value : null)
        ?? Principal.FindFirst(ClaimTypes.NameIdentifier)?.Value
        ?? "unknown";

    public bool CanSeeTeam(string? teamId) => IsAdmin || (teamId is not null && Principal.HasClaim(MarketplaceClaims.TeamId, teamId));

    public bool CanManageTeam(string? teamId) => IsAdmin || (IsPerson && CanSeeTeam(teamId));
}
