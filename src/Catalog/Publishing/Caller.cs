using LlmMarketplace.BuildingBlocks.Security;

namespace LlmMarketplace.Catalog.Publishing;

/// <summary>Who is calling, as the catalog needs it: an actor id for history and ownership of publisher teams.</summary>
internal static class Caller
{
    public static string Actor(ClaimsPrincipal user) =>
        user.FindFirst(MarketplaceClaims.UserId)?.Value is { } userId ? "user:" + userId
        : user.FindFirst(MarketplaceClaims.KeyId)?.Value is { } keyId ? "key:" + keyId
        : user.FindFirst(MarketplaceClaims.CredentialKind)?.Value == MarketplaceClaims.MasterKey ? "master_key"
        : user.FindFirst(ClaimTypes.NameIdentifier)?.Value ?? "anonymous";

    public static bool IsAdmin(ClaimsPrincipal user) => user.IsInRole(Roles.SuperAdmin) || user.IsInRole(Roles.Admin);

    public static bool IsApprover(ClaimsPrincipal user) => IsAdmin(user) || user.IsInRole(Roles.Approver);

    /// <summary>Admins publish for any team; others only for the teams in their <c>llmm:team</c> claims.</summary>
    public static bool MayPublishFor(ClaimsPrincipal user, string? team) =>
        IsAdmin(user) || (team is not null && user.FindAll(MarketplaceClaims.TeamId).Any(c => string.Equals(c.Value, team, StringComparison.Ordinal)));
}
