using System.Text.Json.Nodes;
using LlmMarketplace.Governance.Contracts;
using LlmMarketplace.BuildingBlocks.Security;

namespace LlmMarketplace.Governance.Identity;

/// <summary><c>/api/v1/auth</c>: login, password change, refresh, logout and who-am-I.</summary>
internal static class AuthApi
{
    public static async Task<IResult> LoginAsync(HttpContext context, LoginRequest? body, Authenticator authenticator, TokenService tokens, UserStore users, IAuditLog audit, TimeProvider time)
    {
        var errors = new ValidationErrors();
        if (string.IsNullOrEmpty(body?.Username)) errors.Add("username", "is required");
        if (string.IsNullOrEmpty(body?.Password)) errors.Add("password", "is required");
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());

        var check = await authenticator.CheckPasswordAsync(context, body!.Username!, body.Password!, "auth.login");
        if (check.Failure is { } failure) return failure;
        var user = check.User!;
        if (user.MustChangePassword != 0)
        {
            await audit.AppendAsync(Entry(context, "auth.login", user.Id, "failure", new JsonObject { ["reason"] = "password_change_required" }), context.RequestAborted);
            return Problem(StatusCodes.Status403Forbidden, "Password change required",
                "This account must set a new password before it can log in: POST /api/v1/auth/password with username, currentPassword and newPassword.", "password_change_required");
        }
        var pair = await StartSessionAsync(context, user, tokens, users, time);
        await audit.AppendAsync(Entry(context, "auth.login", user.Id, "success", null), context.RequestAborted);
        return TypedResults.Ok(pair);
    }

    public static async Task<IResult> ChangePasswordAsync(HttpContext context, ChangePasswordRequest? body, Authenticator authenticator, PasswordPolicy policy, PasswordHasher hasher, UserStore users, TokenService tokens, IAuditLog audit, TimeProvider time)
    {
        var errors = new ValidationErrors();
        if (string.IsNullOrEmpty(body?.Username)) errors.Add("username", "is required");
        if (string.IsNullOrEmpty(body?.CurrentPassword)) errors.Add("currentPassword", "is required");
        policy.Check(body?.NewPassword, body?.Username, "newPassword", errors);
        if (body?.NewPassword is { Length: > 0 } n && n == body.CurrentPassword) errors.Add("newPassword", "must differ from the current password");
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());

        var check = await authenticator.CheckPasswordAsync(context, body!.Username!, body.CurrentPassword!, "auth.password_change");
        if (check.Failure is { } failure) return failure;
        var user = check.User!;
        await users.SetPasswordAsync(user.Id, hasher.Hash(body.NewPassword!), mustChange: false, context.RequestAborted);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var sid in await users.RevokeSessionsAsync(null, user.Id, now, context.RequestAborted))
        {
            tokens.MarkRevoked(sid, now + (long)tokens.RefreshLifetime.TotalMilliseconds);
        }
        await audit.AppendAsync(Entry(context, "auth.password_changed", user.Id, "success", null), context.RequestAborted);
        return TypedResults.NoContent();
    }

    public static async Task<IResult> RefreshAsync(HttpContext context, RefreshRequest? body, TokenService tokens, UserStore users, IAuditLog audit, TimeProvider time)
    {
        if (string.IsNullOrEmpty(body?.RefreshToken))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["refreshToken"] = ["is required"] });
        }
        var now = time.GetUtcNow();
        var hash = TokenService.HashToken(body.RefreshToken);
        var session = await users.FindSessionByRefreshAsync(hash, context.RequestAborted);
        if (session is null && await users.FindSessionByPreviousRefreshAsync(hash, context.RequestAborted) is { } stolen)
        {
            // A rotated-away refresh token came back: someone holds a copy. End the whole session for both holders.
            await users.RevokeSessionsAsync(stolen.Id, null, now.ToUnixTimeMilliseconds(), context.RequestAborted);
            tokens.MarkRevoked(stolen.Id, stolen.ExpiresAt);
            await audit.AppendAsync(Entry(context, "auth.refresh", stolen.UserId, "failure", new JsonObject { ["reason"] = "refresh_token_reused", ["session"] = stolen.Id }), context.RequestAborted);
            return Problem(StatusCodes.Status401Unauthorized, "Invalid refresh token", "This refresh token was already used; the session has been ended. Log in again.", "refresh_token_reused");
        }
        var user = session is null ? null : await users.FindByIdAsync(session.UserId, context.RequestAborted);
        string? reason = session switch
        {
            null => "unknown_refresh_token",
            { RevokedAt: not null } => "session_revoked",
            _ when session.ExpiresAt <= now.ToUnixTimeMilliseconds() => "session_expired",
            _ when user is null || user.Disabled != 0 => "account_disabled",
            _ => null,
        };
        if (reason is null)
        {
            var refresh = TokenService.NewRefreshToken();
            var expires = now + tokens.RefreshLifetime;
            if (await users.RotateSessionAsync(session!.Id, hash, TokenService.HashToken(refresh), expires.ToUnixTimeMilliseconds(), context.RequestAborted))
            {
                return TypedResults.Ok(new TokenPair(tokens.CreateAccessToken(user!, session.Id), "Bearer", (int)tokens.AccessLifetime.TotalSeconds, refresh, (int)tokens.RefreshLifetime.TotalSeconds));
            }
            reason = "refresh_token_reused";
        }
        await audit.AppendAsync(Entry(context, "auth.refresh", session?.UserId ?? "unknown", "failure", new JsonObject { ["reason"] = reason }), context.RequestAborted);
        return Problem(StatusCodes.Status401Unauthorized, "Invalid refresh token", "The refresh token is unknown, expired or revoked; log in again.", reason);
    }

    public static async Task<IResult> LogoutAsync(HttpContext context, TokenService tokens, UserStore users, IAuditLog audit, TimeProvider time)
    {
        var sid = context.User.FindFirst(TokenService.SessionClaim)?.Value;
        if (sid is null)
        {
            return Problem(StatusCodes.Status400BadRequest, "Not a session", "Only a login session (an access token) can log out; revoke keys and service tokens instead.", "not_a_session");
        }
        var now = time.GetUtcNow();
        await users.RevokeSessionsAsync(sid, null, now.ToUnixTimeMilliseconds(), context.RequestAborted);
        tokens.MarkRevoked(sid, (now + tokens.RefreshLifetime).ToUnixTimeMilliseconds());
        await audit.AppendAsync(AuditEntry.ForRequest(context, "auth.logout", "session", sid), context.RequestAborted);
        return TypedResults.NoContent();
    }

    /// <summary>The calling principal: for an API key the key itself (id, name, role, team, app) and its owner's id, never the owner's profile.</summary>
    public static Ok<MeDto> Me(ClaimsPrincipal user)
    {
        var isKey = user.HasClaim(MarketplaceClaims.CredentialKind, MarketplaceClaims.ApiKeyCredential);
        return TypedResults.Ok(new MeDto(
            CallerIdentity.ActorIdOf(user),
            user.Identity?.Name ?? "",
            user.FindFirst(MarketplaceClaims.CredentialKind)?.Value ?? "unknown",
            user.FindAll(ClaimTypes.Role).Select(static c => c.Value).ToList(),
            user.FindAll(MarketplaceClaims.TeamId).Select(static c => c.Value).ToList(),
            isKey ? user.FindFirst(MarketplaceClaims.UserId)?.Value : null,
            isKey ? user.FindFirst(MarketplaceClaims.AppId)?.Value : null));
    }

    internal static async Task<TokenPair> StartSessionAsync(HttpContext context, UserRecord user, TokenService tokens, UserStore users, TimeProvider time)
    {
        var now = time.GetUtcNow();
        var refresh = TokenService.NewRefreshToken();
        var session = new SessionRecord
        {
            Id = Guid.NewGuid().ToString("N"),
            UserId = user.Id,
            RefreshHash = TokenService.HashToken(refresh),
            CreatedAt = now.ToUnixTimeMilliseconds(),
            ExpiresAt = (now + tokens.RefreshLifetime).ToUnixTimeMilliseconds(),
            Ip = context.Connection.RemoteIpAddress?.ToString(),
        };
        await users.InsertSessionAsync(session, context.RequestAborted);
        return new TokenPair(tokens.CreateAccessToken(user, session.Id), "Bearer", (int)tokens.AccessLifetime.TotalSeconds, refresh, (int)tokens.RefreshLifetime.TotalSeconds);
    }

    internal static AuditEntry Entry(HttpContext context, string action, string userId, string outcome, JsonNode? after) =>
        AuditEntry.ForRequest(context, action, "user", userId) with { Outcome = outcome, After = after, ActorId = context.User.Identity?.IsAuthenticated == true ? CallerIdentity.ActorIdOf(context.User) : userId };

    internal static ProblemHttpResult Problem(int status, string title, string detail, string code) =>
        TypedResults.Problem(detail, statusCode: status, title: title, extensions: new Dictionary<string, object?> { ["code"] = code });
}

/// <summary>Password checks with lockout: the one place that counts failed attempts and locks accounts.</summary>
internal sealed class Authenticator(UserStore users, PasswordHasher hasher, GovernanceOptions options, TimeProvider time, IAuditLog audit, GovernanceMetrics metrics, ILogger<Authenticator> logger)
{
    public sealed record Outcome(UserRecord? User, IResult? Failure);

    public async Task<Outcome> CheckPasswordAsync(HttpContext context, string username, string password, string action)
    {
        var ct = context.RequestAborted;
        var user = await users.FindByUsernameAsync(username, ct);
        var now = time.GetUtcNow();
        if (user is null || user.Kind != UserKinds.User || user.ErasedAt is not null || user.PasswordHash is null)
        {
            hasher.VerifyDummy(password);
            metrics.Login("unknown_user");
            // A pseudonym, not the name typed: failed attempts must not put personal data into the chain.
            await audit.AppendAsync(AuthApi.Entry(context, action, "unknown", "failure", new JsonObject { ["reason"] = "invalid_credentials", ["usernameSha256"] = TokenService.HashToken(username.ToLowerInvariant())[..16] }), ct);
            return Fail(StatusCodes.Status401Unauthorized, "Invalid credentials", "The user name or password is wrong.", "invalid_credentials");
        }
        if (user.Disabled != 0)
        {
            metrics.Login("disabled");
            await audit.AppendAsync(AuthApi.Entry(context, action, user.Id, "failure", new JsonObject { ["reason"] = "account_disabled" }), ct);
            return Fail(StatusCodes.Status403Forbidden, "Account disabled", "This account is disabled; ask an administrator.", "account_disabled");
        }
        if (user.LockedUntil is { } until && until > now.ToUnixTimeMilliseconds())
        {
            metrics.Login("locked");
            await audit.AppendAsync(AuthApi.Entry(context, action, user.Id, "failure", new JsonObject { ["reason"] = "account_locked" }), ct);
            var untilText = DateTimeOffset.FromUnixTimeMilliseconds(until).ToString("O", System.Globalization.CultureInfo.InvariantCulture);
            return Fail(StatusCodes.Status423Locked, "Account locked",
                $"The account is locked after {options.MaxFailedLogins} failed logins until {untilText}; an administrator can unlock it sooner.", "account_locked");
        }
        if (!hasher.Verify(password, user.PasswordHash))
        {
            var (attempts, lockedUntil) = await users.RecordFailedLoginAsync(user.Id, options.MaxFailedLogins, now.ToUnixTimeMilliseconds(),
                (now + TimeSpan.FromMinutes(options.LockoutMinutes)).ToUnixTimeMilliseconds(), ct);
            metrics.Login("invalid_password");
            Log.LoginFailed(logger, user.Id, "invalid_password");
            await audit.AppendAsync(AuthApi.Entry(context, action, user.Id, "failure", new JsonObject { ["reason"] = "invalid_credentials", ["failedAttempts"] = attempts }), ct);
            if (lockedUntil is not null)
            {
                Log.AccountLocked(logger, user.Id, (int)attempts);
                await audit.AppendAsync(AuthApi.Entry(context, "user.locked", user.Id, "success", new JsonObject { ["lockedUntil"] = lockedUntil, ["failedAttempts"] = attempts }), ct);
            }
            return Fail(StatusCodes.Status401Unauthorized, "Invalid credentials", "The user name or password is wrong.", "invalid_credentials");
        }
        await users.RecordLoginAsync(user.Id, now.ToUnixTimeMilliseconds(), ct);
        metrics.Login("success");
        return new Outcome(user, null);
    }

    private static Outcome Fail(int status, string title, string detail, string code) => new(null, AuthApi.Problem(status, title, detail, code));
}
