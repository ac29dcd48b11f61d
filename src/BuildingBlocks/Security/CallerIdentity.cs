using System.Security.Claims;

namespace LlmMarketplace.BuildingBlocks.Security;

/// <summary>
/// Who is calling, derived once from the principal's claims: the API key, the user (a person, or a key's owner), the
/// app, the teams, and the roles that matter. The data plane resolves it further (a key's own team, the team named in
/// <c>OpenAI-Project</c>) and hands the result to every stage.
/// </summary>
public sealed record CallerIdentity
{
    public required ClaimsPrincipal Principal { get; init; }

    /// <summary>The API key id when the caller authenticated with a key.</summary>
    public string? KeyId { get; init; }

    /// <summary>The person, or the user who owns the key.</summary>
    public string? UserId { get; init; }

    public string? AppId { get; init; }

    /// <summary>The team the call is for: the first of <see cref="TeamIds"/> unless resolved otherwise.</summary>
    public string? TeamId { get; init; }

    /// <summary>Every team in the caller's claims.</summary>
    public IReadOnlyList<string> TeamIds { get; init; } = [];

    public bool IsApiKey { get; init; }

    public bool IsAdmin { get; init; }

    public bool IsSuperAdmin { get; init; }

    /// <summary>The principal's name identifier (the master key and service principals have only this).</summary>
    public string? Name { get; init; }

    /// <summary>
    /// The stable id of a principal: an API key's id (a key never acts as its owner), else the user id, else its name identifier.
    /// </summary>
    public static string ActorIdOf(ClaimsPrincipal user) =>
        user.FindFirst(MarketplaceClaims.KeyId)?.Value
        ?? user.FindFirst(MarketplaceClaims.UserId)?.Value
        ?? user.FindFirst(ClaimTypes.NameIdentifier)?.Value
        ?? "anonymous";

    public static CallerIdentity From(ClaimsPrincipal principal)
    {
        // Built on every gateway call: one list, only when the principal has teams.
        List<string>? teams = null;
        foreach (var claim in principal.FindAll(MarketplaceClaims.TeamId)) (teams ??= []).Add(claim.Value);
        var isApiKey = principal.HasClaim(MarketplaceClaims.CredentialKind, MarketplaceClaims.ApiKeyCredential);
        return new CallerIdentity
        {
            Principal = principal,
            KeyId = principal.FindFirst(MarketplaceClaims.KeyId)?.Value,
            UserId = principal.FindFirst(MarketplaceClaims.UserId)?.Value,
            AppId = principal.FindFirst(MarketplaceClaims.AppId)?.Value,
            TeamId = teams is { Count: > 0 } ? teams[0] : null,
            TeamIds = teams ?? (IReadOnlyList<string>)[],
            IsApiKey = isApiKey,
            IsSuperAdmin = principal.IsInRole(Roles.SuperAdmin),
            IsAdmin = principal.IsInRole(Roles.SuperAdmin) || principal.IsInRole(Roles.Admin),
            Name = principal.FindFirst(ClaimTypes.NameIdentifier)?.Value,
        };
    }

    public bool InTeam(string teamId) => TeamIds.Contains(teamId, StringComparer.Ordinal);

    public bool IsApprover => IsAdmin || Principal.IsInRole(Roles.Approver);

    /// <summary>A person (or service account, or the master key): anything but an API key. Keys read within their team but never mint or revoke credentials.</summary>
    public bool IsPerson => !IsApiKey;

    /// <summary>The person's own id; null for API keys, whose <see cref="UserId"/> names their owner, not the caller.</summary>
    public string? PersonId => IsPerson ? UserId : null;

    /// <summary>The caller's id for records: the person, else the principal's name (an API key is itself, never its owner).</summary>
    public string Actor => PersonId ?? Name ?? "unknown";

    /// <summary>Admins see every team; anyone else the teams in their claims.</summary>
    public bool CanSeeTeam(string? teamId) => IsAdmin || (teamId is not null && InTeam(teamId));

    /// <summary>Admins manage every team; people (not keys) manage their own.</summary>
    public bool CanManageTeam(string? teamId) => IsAdmin || (IsPerson && CanSeeTeam(teamId));
}
