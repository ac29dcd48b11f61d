using LlmMarketplace.Access.Budgets;
using LlmMarketplace.Access.Teams;
using LlmMarketplace.Access.Telemetry;
using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Access.Keys;

/// <summary><c>POST /api/v1/keys</c> body (all but <c>name</c> optional).</summary>
public sealed record CreateKeyRequest
{
    public string? Name { get; init; }
    public string? Team { get; init; }
    public string? App { get; init; }
    public string? User { get; init; }
    public string? Role { get; init; }
    public long? Rpm { get; init; }
    public long? Tpm { get; init; }
    public decimal? BudgetUsd { get; init; }
    public long? BudgetTokens { get; init; }
    public string? BudgetPeriod { get; init; }
    public string[]? Models { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Direct access to models that require a subscription (default: true when an admin creates the key).</summary>
    public bool? Direct { get; init; }

    /// <summary>
    /// Admins only: whether to create <see cref="Team"/> when no team has that id or name. The management API creates it
    /// unless this is false; the command line refuses an unknown team unless asked (<c>--create-team</c>).
    /// </summary>
    public bool? CreateTeam { get; init; }
}

/// <summary>An API key as the management API shows it: never its secret, except <see cref="Key"/> once at creation.</summary>
public sealed record KeyDto(
    string Id,
    string Name,
    string Prefix,
    string? Team,
    string? App,
    string? User,
    string Role,
    IReadOnlyList<string>? Models,
    bool Direct,
    long? Rpm,
    long? Tpm,
    decimal? BudgetUsd,
    long? BudgetTokens,
    string? BudgetPeriod,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt,
    DateTimeOffset CreatedAt,
    string? Key = null);

/// <summary>Creates, lists, revokes and rotates keys; shared by the management API and the command line.</summary>
internal sealed class KeyService(
    AccessStore store, AccessDirectory directory, IGatewayModelCatalog models, TimeProvider time, ILogger<KeyService> logger, IUserDirectory? users = null)
{
    /// <summary>
    /// Creates a key. Who may name whom is decided before anything is looked up, so a refusal never reveals whether a
    /// team, app or user exists: people and service accounts create keys only for themselves (or for nobody), in their
    /// own teams and apps; only admins name another user, team or app. API keys never mint keys.
    /// </summary>
    /// <returns>The key, or the validation errors, or the reason the caller may not create it.</returns>
    public async Task<(KeyDto? Key, ValidationErrors Errors, string? Forbidden)> CreateAsync(CreateKeyRequest request, CallerIdentity caller, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        if (!caller.IsAdmin && Refusal(request, caller, directory.Current) is { } refusal) return (null, errors, refusal);
        var name = request.Name?.Trim();
        if (string.IsNullOrEmpty(name)) errors.Add("name", "A name is required.");
        else if (name.Length > 200) errors.Add("name", "The name must be at most 200 characters.");
        if (request.Rpm is <= 0) errors.Add("rpm", "rpm must be a positive number of requests per minute.");
        if (request.Tpm is <= 0) errors.Add("tpm", "tpm must be a positive number of tokens per minute.");
        if (request.BudgetUsd is < 0) errors.Add("budgetUsd", "budgetUsd must be zero or more.");
        if (request.BudgetTokens is < 0) errors.Add("budgetTokens", "budgetTokens must be zero or more.");
        if (request.BudgetPeriod is not null && !BudgetPeriod.IsValid(request.BudgetPeriod))
            errors.Add("budgetPeriod", $"budgetPeriod must be one of {string.Join(", ", BudgetPeriod.All)}.");
        if (request.BudgetPeriod is not null && request.BudgetUsd is null && request.BudgetTokens is null)
            errors.Add("budgetPeriod", "budgetPeriod needs budgetUsd or budgetTokens.");
        if (request.ExpiresAt is { } exp && exp <= time.GetUtcNow()) errors.Add("expiresAt", "expiresAt must be in the future.");
        var role = request.Role ?? Roles.ServiceAccount;
        if (!Roles.All.Contains(role)) errors.Add("role", $"role must be one of {string.Join(", ", Roles.All)}.");
        else if (role == Roles.SuperAdmin && !caller.IsSuperAdmin) errors.Add("role", "Only a super admin can create a super_admin key.");
        else if (!caller.IsAdmin && role is not (Roles.ServiceAccount or Roles.Viewer)) errors.Add("role", $"Only an admin can create a key with the role '{role}'.");
        if (request.Direct == true && !caller.IsAdmin) errors.Add("direct", "Only an admin can give a key direct access to models that require a subscription.");
        if (request.Models is { } list)
        {
            if (list.Length == 0) errors.Add("models", "models must name at least one model, or be omitted for every model.");
            for (var i = 0; i < list.Length; i++)
            {
                if (string.IsNullOrWhiteSpace(list[i])) errors.Add($"models[{i}]", "A model name is required.");
                else if (!models.TryGetModel(list[i], out _) && !directory.Current.PlansByModel.ContainsKey(list[i]))
                    errors.Add($"models[{i}]", $"Unknown model '{list[i]}'.");
            }
        }

        var snapshot = directory.Current;
        TeamRow? team = null;
        var newTeam = false;
        if (request.Team is { Length: > 0 } teamRef)
        {
            team = caller.IsAdmin ? snapshot.FindTeam(teamRef)
                : caller.TeamIds.Select(id => snapshot.Teams.GetValueOrDefault(id)).FirstOrDefault(t => t is not null && (t.Id == teamRef || t.Name == teamRef));
            if (team is null)
            {
                if (caller.IsAdmin && request.CreateTeam != false)
                {
                    team = new TeamRow { Id = NewId("team"), Name = teamRef, CreatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds() };
                    newTeam = true;
                }
                else
                {
                    errors.Add("team", caller.IsAdmin
                        ? $"Unknown team '{teamRef}'; ask for it to be created (createTeam, or --create-team on the command line)."
                        : $"Unknown team '{teamRef}'.");
                }
            }
        }
        AppRow? app = null;
        if (request.App is { Length: > 0 } appRef)
        {
            app = caller.IsAdmin ? snapshot.FindApp(appRef, team?.Id) : FindOwnApp(snapshot, caller, appRef, team?.Id);
            if (app is null) errors.Add("app", $"Unknown app '{appRef}'.");
            else if (team is not null && app.TeamId != team.Id) errors.Add("app", "The app belongs to another team.");
            else team ??= snapshot.Teams.GetValueOrDefault(app.TeamId);
        }
        var owner = request.User is { Length: > 0 } named ? named : null;
        if (owner is not null && owner != caller.PersonId)
        {
            // Only admins reach here with another user: the key must belong to a live account, never to a made-up id.
            if (users is not null && !await users.IsActiveAsync(owner, cancellationToken))
                errors.Add("user", $"Unknown user '{owner}': a key can be issued only to an existing, enabled user or service account.");
        }
        if (!errors.IsEmpty) return (null, errors, null);

        if (!caller.IsAdmin && (team is null || !caller.CanManageTeam(team.Id)))
        {
            return (null, errors, "A key needs a team you belong to: name it with 'team' (or an app of that team with 'app').");
        }

        var secret = ApiKeySecret.Generate();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var row = new KeyRow
        {
            Id = NewId("key"),
            Name = name!,
            Prefix = ApiKeySecret.Visible(secret),
            Hash = ApiKeySecret.Hash(secret),
            TeamId = team?.Id,
            AppId = app?.Id,
            UserId = owner ?? (request.User is null && caller.IsPerson && !caller.IsAdmin ? caller.PersonId : null),
            Role = role,
            Models = request.Models is null ? null : JsonSerializer.Serialize(request.Models.Distinct(StringComparer.Ordinal).ToArray()),
            Direct = (request.Direct ?? caller.IsAdmin) ? 1 : 0,
            Rpm = request.Rpm,
            Tpm = request.Tpm,
            ExpiresAtMs = request.ExpiresAt?.ToUnixTimeMilliseconds(),
            CreatedAtMs = now,
            CreatedBy = caller.Actor,
        };
        BudgetRow? budget = null;
        if (request.BudgetUsd is not null || request.BudgetTokens is not null)
        {
            budget = new BudgetRow
            {
                Id = NewId("budget"),
                Scope = "key",
                ScopeId = row.Id,
                LimitUsd = request.BudgetUsd,
                LimitTokens = request.BudgetTokens,
                Period = request.BudgetPeriod ?? BudgetPeriod.Monthly,
                AlertThreshold = 0.8,
                CreatedAtMs = now,
            };
        }

        await using (var connection = await store.OpenAsync(cancellationToken))
        await using (var tx = await connection.BeginTransactionAsync(cancellationToken))
        {
            if (newTeam)
            {
                await connection.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO access_teams (id, name, rpm, tpm, created_at_ms) VALUES (@Id, @Name, @Rpm, @Tpm, @CreatedAtMs)", team, tx, cancellationToken: cancellationToken));
            }
            await connection.ExecuteAsync(new CommandDefinition("""
                INSERT INTO access_keys (id, name, prefix, hash, team_id, app_id, user_id, role, models, direct, rpm, tpm, expires_at_ms, revoked_at_ms, created_at_ms, created_by)
                VALUES (@Id, @Name, @Prefix, @Hash, @TeamId, @AppId, @UserId, @Role, @Models, @Direct, @Rpm, @Tpm, @ExpiresAtMs, NULL, @CreatedAtMs, @CreatedBy)
                """, row, tx, cancellationToken: cancellationToken));
            if (budget is not null)
            {
                await connection.ExecuteAsync(new CommandDefinition(BudgetService.InsertSql, budget, tx, cancellationToken: cancellationToken));
            }
            await tx.CommitAsync(cancellationToken);
        }
        await directory.ReloadAsync(cancellationToken);
        Log.KeyCreated(logger, row.Id, row.Prefix, caller.Actor);
        return (ToDto(row, directory.Current) with { Key = secret }, errors, null);
    }

    /// <summary>Why a caller who is not an admin may not create this key, judged from their own claims only; null when they may.</summary>
    private static string? Refusal(CreateKeyRequest request, CallerIdentity caller, AccessSnapshot snapshot)
    {
        if (!caller.IsPerson) return "An API key cannot create keys; use a person's login or a service-account token.";
        if (request.User is { Length: > 0 } user && user != caller.PersonId)
            return "You can create keys only for yourself: leave 'user' out or set it to your own id. Only an admin issues keys to someone else.";
        if (request.Team is { Length: > 0 } team && !caller.TeamIds.Any(id => id == team || snapshot.Teams.GetValueOrDefault(id)?.Name == team))
            return "You can create keys only in a team you belong to.";
        if (request.App is { Length: > 0 } app && FindOwnApp(snapshot, caller, app, null) is null)
            return "You can create keys only for an app of a team you belong to.";
        return null;
    }

    /// <summary>The app of one of the caller's teams named by id or name (in <paramref name="teamId"/> when given).</summary>
    private static AppRow? FindOwnApp(AccessSnapshot snapshot, CallerIdentity caller, string idOrName, string? teamId)
    {
        var teams = caller.TeamIds;
        return snapshot.Apps.Values.FirstOrDefault(a => (a.Id == idOrName || a.Name == idOrName)
            && teams.Contains(a.TeamId) && (teamId is null || a.TeamId == teamId));
    }

    public IEnumerable<KeyDto> List(CallerIdentity caller, AccessSnapshot snapshot, IEnumerable<KeyRow> rows) =>
        rows.Where(r => caller.CanSeeTeam(r.TeamId)).Select(r => ToDto(r, snapshot));

    public async Task<IReadOnlyList<KeyRow>> AllRowsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<KeyRow>(new CommandDefinition("SELECT * FROM access_keys ORDER BY created_at_ms DESC", cancellationToken: cancellationToken))).AsList();
    }

    public async Task<KeyRow?> FindRowAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<KeyRow>(new CommandDefinition("SELECT * FROM access_keys WHERE id = @id", new { id }, cancellationToken: cancellationToken));
    }

    /// <summary>Revokes a key now; the in-memory directory forgets it before this returns.</summary>
    public async Task<KeyRow?> RevokeAsync(string id, string actor, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using (var connection = await store.OpenAsync(cancellationToken))
        {
            var changed = await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE access_keys SET revoked_at_ms = @now, previous_until_ms = NULL WHERE id = @id AND (revoked_at_ms IS NULL OR revoked_at_ms > @now)",
                new { id, now }, cancellationToken: cancellationToken));
            if (changed == 0)
            {
                return await FindRowAsync(id, cancellationToken);
            }
        }
        await directory.ReloadAsync(cancellationToken);
        Log.KeyRevoked(logger, id, actor);
        return await FindRowAsync(id, cancellationToken);
    }

    /// <summary>Gives a key a new secret; the old one keeps working for <paramref name="overlap"/>. Id, limits, budgets and usage stay.</summary>
    public async Task<(KeyRow Row, string Secret)?> RotateAsync(string id, TimeSpan overlap, CancellationToken cancellationToken)
    {
        var secret = ApiKeySecret.Generate();
        var now = time.GetUtcNow();
        await using (var connection = await store.OpenAsync(cancellationToken))
        {
            var changed = await connection.ExecuteAsync(new CommandDefinition("""
                UPDATE access_keys SET previous_hash = hash, previous_until_ms = @until, hash = @hash, prefix = @prefix
                WHERE id = @id AND (revoked_at_ms IS NULL OR revoked_at_ms > @now)
                """,
                new { id, until = (now + overlap).ToUnixTimeMilliseconds(), hash = ApiKeySecret.Hash(secret), prefix = ApiKeySecret.Visible(secret), now = now.ToUnixTimeMilliseconds() },
                cancellationToken: cancellationToken));
            if (changed == 0) return null;
        }
        await directory.ReloadAsync(cancellationToken);
        return ((await FindRowAsync(id, cancellationToken))!, secret);
    }

    public KeyDto ToDto(KeyRow row, AccessSnapshot snapshot)
    {
        var budget = snapshot.BudgetsByScope.TryGetValue(AccessSnapshot.ScopeKey("key", row.Id), out var b) ? b[0] : null;
        return new KeyDto(
            row.Id, row.Name, row.Prefix, row.TeamId, row.AppId, row.UserId, row.Role,
            row.Models is null ? null : JsonSerializer.Deserialize<string[]>(row.Models),
            row.Direct == 1, row.Rpm, row.Tpm,
            budget?.LimitUsd, budget?.LimitTokens, budget?.Period,
            row.ExpiresAtMs is { } e ? DateTimeOffset.FromUnixTimeMilliseconds(e) : null,
            row.RevokedAtMs is { } r ? DateTimeOffset.FromUnixTimeMilliseconds(r) : null,
            DateTimeOffset.FromUnixTimeMilliseconds(row.CreatedAtMs));
    }

    internal static string NewId(string kind) => kind + "_" + Guid.CreateVersion7().ToString("N");
}
