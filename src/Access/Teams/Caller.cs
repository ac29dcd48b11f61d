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

    public string? UserId => Principal.FindFirst(MarketplaceClaims.UserId)?.Value;

    public string Actor => Principal.FindFirst(MarketplaceClaims.UserId)?.Value
        ?? Principal.FindFirst(ClaimTypes.NameIdentifier)?.Value
        ?? "unknown";

    public bool CanSeeTeam(string? teamId) => IsAdmin || (teamId is not null && Principal.HasClaim(MarketplaceClaims.TeamId, teamId));

    public bool CanManageTeam(string? teamId) => IsAdmin || (IsPerson && CanSeeTeam(teamId));
}
