using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlmMarketplace.Governance.Contracts;
using LlmMarketplace.Governance.Audit;
using LlmMarketplace.BuildingBlocks.Security;

namespace LlmMarketplace.Governance.Identity;

/// <summary><c>/api/v1/users</c>: local users, their roles, teams, lockout, and personal-data export and erasure.</summary>
internal static partial class UsersApi
{
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$")]
    private static partial Regex UsernamePattern();

    public static async Task<Ok<UserList>> ListAsync(UserStore users, TimeProvider time, int? limit, int? offset, CancellationToken ct)
    {
        var list = await users.ListAsync(UserKinds.User, Math.Clamp(limit ?? 100, 1, 1000), Math.Max(offset ?? 0, 0), ct);
        var now = time.GetUtcNow();
        return TypedResults.Ok(new UserList(list.Select(u => UserDto.From(u, now)).ToList()));
    }

    public static async Task<Results<Ok<UserDto>, NotFound>> GetAsync(string id, UserStore users, TimeProvider time, CancellationToken ct) =>
        await users.FindByIdAsync(id, ct) is { Kind: UserKinds.User } user ? TypedResults.Ok(UserDto.From(user, time.GetUtcNow())) : TypedResults.NotFound();

    public static async Task<IResult> CreateAsync(HttpContext context, CreateUserRequest? body, UserStore users, PasswordPolicy policy, PasswordHasher hasher, IAuditLog audit, TimeProvider time)
    {
        var errors = new ValidationErrors();
        if (body is null)
        {
            errors.Add("$", "a JSON body is required");
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }
        if (string.IsNullOrEmpty(body.Username) || !UsernamePattern().IsMatch(body.Username))
        {
            errors.Add("username", "use 3-64 characters: letters, digits, '.', '_', '@', '-', starting with a letter or digit");
        }
        if (body.Password is not null) policy.Check(body.Password, body.Username, "password", errors);
        if (body.Email is { Length: > 0 } email && (!email.Contains('@', StringComparison.Ordinal) || email.Length > 254)) errors.Add("email", "is not an e-mail address");
        if (body.DisplayName is { Length: > 200 }) errors.Add("displayName", "must have at most 200 characters");
        RoleRules.Check(body.Roles, "roles", serviceAccount: false, errors);
        var teams = CheckTeams(body.Teams, errors);
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());
        if (body.Roles?.Contains(Roles.SuperAdmin) == true && !context.User.IsInRole(Roles.SuperAdmin))
        {
            return AuthApi.Problem(StatusCodes.Status403Forbidden, "Forbidden", "Only a super_admin can grant super_admin.", "insufficient_permissions");
        }

        var oneTime = body.Password is null ? PasswordPolicy.Generate() : null;
        var user = new UserRecord
        {
            Id = Guid.NewGuid().ToString("N"),
            Username = body.Username!,
            DisplayName = body.DisplayName,
            Email = body.Email,
            Kind = UserKinds.User,
            PasswordHash = hasher.Hash(body.Password ?? oneTime!),
            MustChangePassword = (body.MustChangePassword ?? oneTime is not null) ? 1 : 0,
            CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
            Roles = body.Roles?.Distinct(StringComparer.Ordinal).ToList() ?? [],
            Teams = teams,
        };
        if (!await users.InsertAsync(user, context.RequestAborted))
        {
            return TypedResults.Conflict(new HttpValidationProblemDetails(new Dictionary<string, string[]> { ["username"] = [$"'{body.Username}' is taken"] }) { Status = 409, Title = "Conflict" });
        }
        await audit.AppendAsync(AuditEntry.ForRequest(context, "user.created", "user", user.Id) with { After = Snapshot(user) }, context.RequestAborted);
        return TypedResults.Created($"/api/v1/users/{user.Id}", new CreatedUser(UserDto.From(user, time.GetUtcNow()), oneTime));
    }

    public static async Task<IResult> SetRolesAsync(HttpContext context, string id, SetRolesRequest? body, UserStore users, TokenService tokens, ServiceTokenValidator serviceTokens, IAuditLog audit, TimeProvider time)
    {
        var errors = new ValidationErrors();
        if (body?.Roles is null) errors.Add("roles", "is required (an empty list removes every role)");
        var user = await users.FindByIdAsync(id, context.RequestAborted);
        RoleRules.Check(body?.Roles, "roles", serviceAccount: user?.Kind == UserKinds.Service, errors);
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());
        if (user is null || user.ErasedAt is not null) return TypedResults.NotFound();
        var roles = body!.Roles!.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if ((roles.Contains(Roles.SuperAdmin) != user.Roles.Contains(Roles.SuperAdmin)) && !context.User.IsInRole(Roles.SuperAdmin))
        {
            return AuthApi.Problem(StatusCodes.Status403Forbidden, "Forbidden", "Only a super_admin can grant or remove super_admin.", "insufficient_permissions");
        }
        await users.SetRolesAsync(id, roles, context.RequestAborted);
        if (user.Roles.Except(roles, StringComparer.Ordinal).Any())
        {
            // A removed role takes effect at once: the user's sessions end and service tokens are re-read.
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            foreach (var sid in await users.RevokeSessionsAsync(null, id, now, context.RequestAborted))
            {
                tokens.MarkRevoked(sid, now + (long)tokens.RefreshLifetime.TotalMilliseconds);
            }
        }
        await serviceTokens.ReloadAsync(context.RequestAborted);
        var before = Snapshot(user);
        user.Roles = roles;
        await audit.AppendAsync(AuditEntry.ForRequest(context, "user.roles_changed", "user", id) with { Before = before, After = Snapshot(user) }, context.RequestAborted);
        return TypedResults.Ok(UserDto.From(user, time.GetUtcNow()));
    }

    public static async Task<IResult> SetTeamsAsync(HttpContext context, string id, SetTeamsRequest? body, UserStore users, IAuditLog audit, TimeProvider time)
    {
        var errors = new ValidationErrors();
        if (body?.Teams is null) errors.Add("teams", "is required (an empty list removes every membership)");
        var teams = CheckTeams(body?.Teams, errors);
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());
        var user = await users.FindByIdAsync(id, context.RequestAborted);
        if (user is null || user.ErasedAt is not null) return TypedResults.NotFound();
        await users.SetTeamsAsync(id, teams, context.RequestAborted);
        var before = Snapshot(user);
        user.Teams = teams;
        await audit.AppendAsync(AuditEntry.ForRequest(context, "user.teams_changed", "user", id) with { Before = before, After = Snapshot(user) }, context.RequestAborted);
        return TypedResults.Ok(UserDto.From(user, time.GetUtcNow()));
    }

    public static async Task<IResult> UnlockAsync(HttpContext context, string id, UserStore users, IAuditLog audit, TimeProvider time)
    {
        var user = await users.FindByIdAsync(id, context.RequestAborted);
        if (user is null || user.ErasedAt is not null) return TypedResults.NotFound();
        await users.UnlockAsync(id, context.RequestAborted);
        await audit.AppendAsync(AuditEntry.ForRequest(context, "user.unlocked", "user", id) with
        {
            Before = new JsonObject { ["failedAttempts"] = user.FailedAttempts, ["lockedUntil"] = user.LockedUntil },
        }, context.RequestAborted);
        return TypedResults.Ok(UserDto.From(await users.FindByIdAsync(id, context.RequestAborted) ?? user, time.GetUtcNow()));
    }

    public static async Task<IResult> SetDisabledAsync(HttpContext context, string id, bool disabled, UserStore users, TokenService tokens, ServiceTokenValidator serviceTokens, IAuditLog audit, TimeProvider time)
    {
        var user = await users.FindByIdAsync(id, context.RequestAborted);
        if (user is null || user.ErasedAt is not null) return TypedResults.NotFound();
        if (disabled && id == CallerIdentity.ActorIdOf(context.User))
        {
            return AuthApi.Problem(StatusCodes.Status409Conflict, "Conflict", "You cannot disable your own account.", "self_disable");
        }
        await users.SetDisabledAsync(id, disabled, context.RequestAborted);
        if (disabled)
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            foreach (var sid in await users.RevokeSessionsAsync(null, id, now, context.RequestAborted))
            {
                tokens.MarkRevoked(sid, now + (long)tokens.RefreshLifetime.TotalMilliseconds);
            }
        }
        await serviceTokens.ReloadAsync(context.RequestAborted);
        await audit.AppendAsync(AuditEntry.ForRequest(context, disabled ? "user.disabled" : "user.enabled", "user", id) with
        {
            Before = new JsonObject { ["disabled"] = user.Disabled != 0 },
            After = new JsonObject { ["disabled"] = disabled },
        }, context.RequestAborted);
        return TypedResults.Ok(UserDto.From(await users.FindByIdAsync(id, context.RequestAborted) ?? user, time.GetUtcNow()));
    }

    /// <summary>Everything stored about a person: the account, memberships, sessions and the audit entries that name them.</summary>
    public static async Task<IResult> ExportAsync(string id, UserStore users, AuditLog audit, TimeProvider time, CancellationToken ct)
    {
        var user = await users.FindByIdAsync(id, ct);
        if (user is null) return TypedResults.NotFound();
        var sessions = await users.SessionsOfAsync(id, ct);
        var entries = await audit.ForUserAsync(id, ct);
        return TypedResults.Ok(new PersonalDataExport(
            time.GetUtcNow(),
            UserDto.From(user, time.GetUtcNow()),
            user.OidcIssuer is null ? null : new ExternalLogin(user.OidcIssuer, user.OidcSubject),
            sessions.Select(static s => new SessionDto(s.Id, UserDto.Time(s.CreatedAt)!.Value, UserDto.Time(s.ExpiresAt)!.Value, UserDto.Time(s.RevokedAt), s.Ip)).ToList(),
            entries.Select(static e => e.ToDto()).ToList()));
    }

    /// <summary>The caller's own data. An API key never stands in for its owner: the person logs in to export theirs.</summary>
    public static Task<IResult> ExportMeAsync(ClaimsPrincipal caller, UserStore users, AuditLog audit, TimeProvider time, CancellationToken ct) =>
        caller.HasClaim(MarketplaceClaims.CredentialKind, MarketplaceClaims.ApiKeyCredential)
            ? Task.FromResult<IResult>(AuthApi.Problem(StatusCodes.Status403Forbidden, "Not with an API key",
                "An API key cannot export personal data, not even its owner's; log in as the person (or use the service account's token).", "api_key_not_allowed"))
        : caller.FindFirst(MarketplaceClaims.UserId)?.Value is { } id
            ? ExportAsync(id, users, audit, time, ct)
            : Task.FromResult<IResult>(AuthApi.Problem(StatusCodes.Status400BadRequest, "Not a user", "Only a user or service account has personal data to export.", "not_a_user"));

    /// <summary>
    /// Erases a person: the user name becomes a pseudonym (<c>erased-ID</c>), name, e-mail, credentials and session IPs are
    /// removed. The audit trail references people by id only, so the chain stays intact.
    /// </summary>
    public static async Task<IResult> EraseAsync(HttpContext context, string id, UserStore users, TokenService tokens, ServiceTokenValidator serviceTokens, IAuditLog audit, TimeProvider time)
    {
        var user = await users.FindByIdAsync(id, context.RequestAborted);
        if (user is null) return TypedResults.NotFound();
        if (user.ErasedAt is not null) return TypedResults.NoContent();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var live = await users.SessionsOfAsync(id, context.RequestAborted);
        await users.EraseAsync(id, now, context.RequestAborted);
        foreach (var session in live.Where(static s => s.RevokedAt is null))
        {
            tokens.MarkRevoked(session.Id, session.ExpiresAt);
        }
        await serviceTokens.ReloadAsync(context.RequestAborted);
        await audit.AppendAsync(AuditEntry.ForRequest(context, "user.erased", "user", id), context.RequestAborted);
        return TypedResults.NoContent();
    }

    /// <summary>The audited state of a user: ids and roles, never personal fields.</summary>
    internal static JsonObject Snapshot(UserRecord user) => new()
    {
        ["id"] = user.Id,
        ["kind"] = user.Kind,
        ["roles"] = new JsonArray(user.Roles.Select(static r => (JsonNode)JsonValue.Create(r)!).ToArray()),
        ["teams"] = new JsonArray(user.Teams.Select(static t => (JsonNode)JsonValue.Create(t.Id)!).ToArray()),
    };

    internal static List<TeamMembership> CheckTeams(IReadOnlyList<TeamInput>? teams, ValidationErrors errors)
    {
        var result = new List<TeamMembership>();
        for (var i = 0; i < (teams?.Count ?? 0); i++)
        {
            var team = teams![i];
            if (string.IsNullOrWhiteSpace(team?.Id) || team.Id.Length > 100)
            {
                errors.Add($"teams[{i}].id", "is required (at most 100 characters)");
                continue;
            }
            if (result.Any(t => t.Id == team.Id))
            {
                errors.Add($"teams[{i}].id", $"'{team.Id}' is listed twice");
                continue;
            }
            result.Add(new TeamMembership(team.Id, team.Name));
        }
        return result;
    }
}

public sealed record UserList(IReadOnlyList<UserDto> Data);

public sealed record ExternalLogin(string Issuer, string? Subject);

public sealed record SessionDto(string Id, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? RevokedAt, string? Ip);

public sealed record PersonalDataExport(DateTimeOffset ExportedAt, UserDto User, ExternalLogin? ExternalLogin, IReadOnlyList<SessionDto> Sessions, IReadOnlyList<AuditEntryDto> AuditEntries);
