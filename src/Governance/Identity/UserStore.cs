namespace LlmMarketplace.Governance.Identity;

internal static class UserKinds
{
    public const string User = "user";
    public const string Service = "service";
}

/// <summary>A row of <c>gov_users</c> with its roles and teams.</summary>
internal sealed record UserRecord
{
    public string Id { get; init; } = "";
    public string Username { get; init; } = "";
    public string? DisplayName { get; init; }
    public string? Email { get; init; }
    public string Kind { get; init; } = UserKinds.User;
    public string? PasswordHash { get; init; }
    public long MustChangePassword { get; init; }
    public long FailedAttempts { get; init; }
    public long? LockedUntil { get; init; }
    public long Disabled { get; init; }
    public string? OidcIssuer { get; init; }
    public string? OidcSubject { get; init; }
    public long CreatedAt { get; init; }
    public long? LastLoginAt { get; init; }
    public long? ErasedAt { get; init; }
    public IReadOnlyList<string> Roles { get; set; } = [];
    public IReadOnlyList<TeamMembership> Teams { get; set; } = [];
}

public sealed record TeamMembership(string Id, string? Name);

/// <summary>Users, their roles and team memberships, sessions and service tokens: the module's own tables, through Dapper.</summary>
internal sealed class UserStore(Database database)
{
    private const string Columns = """
        id AS Id, username AS Username, display_name AS DisplayName, email AS Email, kind AS Kind, password_hash AS PasswordHash,
        must_change_password AS MustChangePassword, failed_attempts AS FailedAttempts, locked_until AS LockedUntil, disabled AS Disabled,
        oidc_issuer AS OidcIssuer, oidc_subject AS OidcSubject, created_at AS CreatedAt, last_login_at AS LastLoginAt, erased_at AS ErasedAt
        """;

    public Database Database => database;

    public async Task<bool> AnyUserAsync(CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM gov_users WHERE kind = 'user'", cancellationToken: ct)) > 0;
    }

    public Task<UserRecord?> FindByIdAsync(string id, CancellationToken ct) => FindAsync("id = @value", id, ct);

    public Task<UserRecord?> FindByUsernameAsync(string username, CancellationToken ct) => FindAsync("username = @value", username, ct);

    /// <summary>The user linked to an external identity (issuer and subject joined by a space).</summary>
    public Task<UserRecord?> FindByExternalAsync(string issuer, string subject, CancellationToken ct) =>
        FindAsync("oidc_issuer || ' ' || oidc_subject = @value", issuer + " " + subject, ct);

    private async Task<UserRecord?> FindAsync(string where, string value, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var user = await c.QuerySingleOrDefaultAsync<UserRecord>(new CommandDefinition($"SELECT {Columns} FROM gov_users WHERE {where}", new { value }, cancellationToken: ct));
        if (user is null) return null;
        await LoadRelationsAsync(c, [user], ct);
        return user;
    }

    public async Task<IReadOnlyList<UserRecord>> ListAsync(string kind, int limit, int offset, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var users = (await c.QueryAsync<UserRecord>(new CommandDefinition(
            $"SELECT {Columns} FROM gov_users WHERE kind = @kind ORDER BY created_at, id LIMIT @limit OFFSET @offset", new { kind, limit, offset }, cancellationToken: ct))).AsList();
        await LoadRelationsAsync(c, users, ct);
        return users;
    }

    /// <summary>Loads roles and teams of many users in two queries.</summary>
    private static async Task LoadRelationsAsync(System.Data.Common.DbConnection c, IReadOnlyList<UserRecord> users, CancellationToken ct)
    {
        if (users.Count == 0) return;
        var ids = users.Select(static u => u.Id).ToArray();
        // Dapper expands a list into IN (...) on SQLite, and sends a native array to PostgreSQL.
        var match = c is Microsoft.Data.Sqlite.SqliteConnection ? "IN @ids" : "= ANY(@ids)";
        var roles = (await c.QueryAsync<(string UserId, string Role)>(new CommandDefinition(
            $"SELECT user_id, role FROM gov_user_roles WHERE user_id {match} ORDER BY role", new { ids }, cancellationToken: ct))).ToLookup(static r => r.UserId);
        var teams = (await c.QueryAsync<(string UserId, string Id, string? Name)>(new CommandDefinition(
            $"SELECT user_id, team_id, team_name FROM gov_user_teams WHERE user_id {match} ORDER BY team_id", new { ids }, cancellationToken: ct))).ToLookup(static t => t.UserId);
        foreach (var user in users)
        {
            user.Roles = roles[user.Id].Select(static r => r.Role).ToList();
            user.Teams = teams[user.Id].Select(static t => new TeamMembership(t.Id, t.Name)).ToList();
        }
    }

    /// <summary>Inserts a user with roles and teams in one transaction; false when the user name is taken.</summary>
    public async Task<bool> InsertAsync(UserRecord user, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var taken = await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM gov_users WHERE username = @Username", user, tx, cancellationToken: ct));
        if (taken > 0) return false;
        await c.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO gov_users (id, username, display_name, email, kind, password_hash, must_change_password, failed_attempts, locked_until, disabled, oidc_issuer, oidc_subject, created_at)
            VALUES (@Id, @Username, @DisplayName, @Email, @Kind, @PasswordHash, @MustChangePassword, 0, NULL, 0, @OidcIssuer, @OidcSubject, @CreatedAt)
            """, user, tx, cancellationToken: ct));
        await WriteRelationsAsync(c, tx, user.Id, user.Roles, user.Teams, ct);
        await tx.CommitAsync(ct);
        return true;
    }

    public Task SetRolesAsync(string userId, IReadOnlyList<string> roles, CancellationToken ct) => ReplaceRelationsAsync("gov_user_roles", userId, roles, null, ct);

    public Task SetTeamsAsync(string userId, IReadOnlyList<TeamMembership> teams, CancellationToken ct) => ReplaceRelationsAsync("gov_user_teams", userId, null, teams, ct);

    /// <summary>Replaces a user's roles or teams (the rows of <paramref name="table"/>) in one transaction.</summary>
    private async Task ReplaceRelationsAsync(string table, string userId, IReadOnlyList<string>? roles, IReadOnlyList<TeamMembership>? teams, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        await c.ExecuteAsync(new CommandDefinition($"DELETE FROM {table} WHERE user_id = @userId", new { userId }, tx, cancellationToken: ct));
        await WriteRelationsAsync(c, tx, userId, roles, teams, ct);
        await tx.CommitAsync(ct);
    }

    private static async Task WriteRelationsAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx, string userId, IReadOnlyList<string>? roles, IReadOnlyList<TeamMembership>? teams, CancellationToken ct)
    {
        foreach (var role in roles ?? [])
        {
            await c.ExecuteAsync(new CommandDefinition("INSERT INTO gov_user_roles (user_id, role) VALUES (@userId, @role)", new { userId, role }, tx, cancellationToken: ct));
        }
        foreach (var team in teams ?? [])
        {
            await c.ExecuteAsync(new CommandDefinition("INSERT INTO gov_user_teams (user_id, team_id, team_name) VALUES (@userId, @id, @name)", new { userId, id = team.Id, name = team.Name }, tx, cancellationToken: ct));
        }
    }

    /// <summary>
    /// Counts a failed login atomically (concurrent attempts are all counted; a lock that has run out starts the count
    /// afresh) and locks the account when the count reaches <paramref name="maxAttempts"/>. Returns the count and the lock's end.
    /// </summary>
    public async Task<(long Attempts, long? LockedUntil)> RecordFailedLoginAsync(string userId, int maxAttempts, long now, long lockUntil, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var attempts = await c.ExecuteScalarAsync<long>(new CommandDefinition(
            """
            UPDATE gov_users SET failed_attempts = CASE WHEN locked_until IS NOT NULL THEN 1 ELSE failed_attempts + 1 END, locked_until = NULL
            WHERE id = @userId AND (locked_until IS NULL OR locked_until <= @now)
            RETURNING failed_attempts
            """, new { userId, now }, tx, cancellationToken: ct));
        long? lockedUntil = null;
        if (attempts >= maxAttempts)
        {
            await c.ExecuteAsync(new CommandDefinition("UPDATE gov_users SET failed_attempts = 0, locked_until = @lockUntil WHERE id = @userId", new { userId, lockUntil }, tx, cancellationToken: ct));
            lockedUntil = lockUntil;
        }
        await tx.CommitAsync(ct);
        return (attempts, lockedUntil);
    }

    public async Task RecordLoginAsync(string userId, long now, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition("UPDATE gov_users SET failed_attempts = 0, locked_until = NULL, last_login_at = @now WHERE id = @userId", new { userId, now }, cancellationToken: ct));
    }

    public async Task UnlockAsync(string userId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition("UPDATE gov_users SET failed_attempts = 0, locked_until = NULL WHERE id = @userId", new { userId }, cancellationToken: ct));
    }

    public async Task SetPasswordAsync(string userId, string hash, bool mustChange, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition("UPDATE gov_users SET password_hash = @hash, must_change_password = @mustChange, failed_attempts = 0, locked_until = NULL WHERE id = @userId",
            new { userId, hash, mustChange = mustChange ? 1 : 0 }, cancellationToken: ct));
    }

    public async Task SetDisabledAsync(string userId, bool disabled, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition("UPDATE gov_users SET disabled = @disabled WHERE id = @userId", new { userId, disabled = disabled ? 1 : 0 }, cancellationToken: ct));
    }

    /// <summary>Removes personal fields: the user name becomes a pseudonym, contact details and credentials go.</summary>
    public async Task EraseAsync(string userId, long now, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        await c.ExecuteAsync(new CommandDefinition(
            """
            UPDATE gov_users SET username = @pseudonym, display_name = NULL, email = NULL, password_hash = NULL, oidc_issuer = NULL, oidc_subject = NULL,
                disabled = 1, must_change_password = 0, erased_at = @now WHERE id = @userId
            """, new { userId, now, pseudonym = "erased-" + userId }, tx, cancellationToken: ct));
        await c.ExecuteAsync(new CommandDefinition("UPDATE gov_sessions SET revoked_at = @now, ip = NULL WHERE user_id = @userId AND revoked_at IS NULL", new { userId, now }, tx, cancellationToken: ct));
        await c.ExecuteAsync(new CommandDefinition("UPDATE gov_sessions SET ip = NULL WHERE user_id = @userId", new { userId }, tx, cancellationToken: ct));
        await c.ExecuteAsync(new CommandDefinition("UPDATE gov_service_tokens SET revoked_at = @now WHERE user_id = @userId AND revoked_at IS NULL", new { userId, now }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
    }

    // Sessions (refresh tokens, stored as SHA-256)

    public async Task InsertSessionAsync(SessionRecord session, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO gov_sessions (id, user_id, refresh_hash, created_at, expires_at, revoked_at, ip) VALUES (@Id, @UserId, @RefreshHash, @CreatedAt, @ExpiresAt, NULL, @Ip)",
            session, cancellationToken: ct));
    }

    public async Task<SessionRecord?> FindSessionByRefreshAsync(string refreshHash, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return await c.QuerySingleOrDefaultAsync<SessionRecord>(new CommandDefinition(
            "SELECT id AS Id, user_id AS UserId, refresh_hash AS RefreshHash, created_at AS CreatedAt, expires_at AS ExpiresAt, revoked_at AS RevokedAt, ip AS Ip FROM gov_sessions WHERE refresh_hash = @refreshHash",
            new { refreshHash }, cancellationToken: ct));
    }

    /// <summary>The session whose previous (rotated-away) refresh token this is: its reuse means the token was stolen.</summary>
    public async Task<SessionRecord?> FindSessionByPreviousRefreshAsync(string refreshHash, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return await c.QuerySingleOrDefaultAsync<SessionRecord>(new CommandDefinition(
            "SELECT id AS Id, user_id AS UserId, refresh_hash AS RefreshHash, created_at AS CreatedAt, expires_at AS ExpiresAt, revoked_at AS RevokedAt, ip AS Ip FROM gov_sessions WHERE previous_refresh_hash = @refreshHash",
            new { refreshHash }, cancellationToken: ct));
    }

    public async Task<IReadOnlyList<SessionRecord>> SessionsOfAsync(string userId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return (await c.QueryAsync<SessionRecord>(new CommandDefinition(
            "SELECT id AS Id, user_id AS UserId, '' AS RefreshHash, created_at AS CreatedAt, expires_at AS ExpiresAt, revoked_at AS RevokedAt, ip AS Ip FROM gov_sessions WHERE user_id = @userId ORDER BY created_at",
            new { userId }, cancellationToken: ct))).AsList();
    }

    /// <summary>Swaps the refresh token of a live session (rotation); false when it was used or revoked meanwhile.</summary>
    public async Task<bool> RotateSessionAsync(string sessionId, string oldHash, string newHash, long expiresAt, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return await c.ExecuteAsync(new CommandDefinition(
            "UPDATE gov_sessions SET refresh_hash = @newHash, previous_refresh_hash = @oldHash, expires_at = @expiresAt WHERE id = @sessionId AND refresh_hash = @oldHash AND revoked_at IS NULL",
            new { sessionId, oldHash, newHash, expiresAt }, cancellationToken: ct)) == 1;
    }

    public async Task<IReadOnlyList<string>> RevokeSessionsAsync(string? sessionId, string? userId, long now, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var ids = (await c.QueryAsync<string>(new CommandDefinition(
            "SELECT id FROM gov_sessions WHERE revoked_at IS NULL AND (id = @sessionId OR user_id = @userId)", new { sessionId, userId }, cancellationToken: ct))).AsList();
        await c.ExecuteAsync(new CommandDefinition(
            "UPDATE gov_sessions SET revoked_at = @now WHERE revoked_at IS NULL AND (id = @sessionId OR user_id = @userId)", new { sessionId, userId, now }, cancellationToken: ct));
        return ids;
    }

    public async Task<IReadOnlyList<(string Id, long ExpiresAt)>> RevokedSessionsAsync(long now, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return (await c.QueryAsync<(string, long)>(new CommandDefinition(
            "SELECT id, expires_at FROM gov_sessions WHERE revoked_at IS NOT NULL AND expires_at > @now", new { now }, cancellationToken: ct))).AsList();
    }

    // Service tokens

    public async Task InsertServiceTokenAsync(string id, string userId, string tokenHash, long now, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO gov_service_tokens (id, user_id, token_hash, created_at, revoked_at) VALUES (@id, @userId, @tokenHash, @now, NULL)",
            new { id, userId, tokenHash, now }, cancellationToken: ct));
    }

    public async Task<bool> IsLiveServiceTokenAsync(string tokenHash, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM gov_service_tokens t JOIN gov_users u ON u.id = t.user_id WHERE t.token_hash = @tokenHash AND t.revoked_at IS NULL AND u.disabled = 0",
            new { tokenHash }, cancellationToken: ct)) > 0;
    }

    public async Task<IReadOnlyList<(string TokenHash, string UserId)>> LiveServiceTokensAsync(CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return (await c.QueryAsync<(string, string)>(new CommandDefinition(
            "SELECT t.token_hash, t.user_id FROM gov_service_tokens t JOIN gov_users u ON u.id = t.user_id WHERE t.revoked_at IS NULL AND u.disabled = 0",
            cancellationToken: ct))).AsList();
    }
}

internal sealed record SessionRecord
{
    public string Id { get; init; } = "";
    public string UserId { get; init; } = "";
    public string RefreshHash { get; init; } = "";
    public long CreatedAt { get; init; }
    public long ExpiresAt { get; init; }
    public long? RevokedAt { get; init; }
    public string? Ip { get; init; }
}
