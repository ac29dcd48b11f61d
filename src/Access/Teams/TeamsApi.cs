using LlmMarketplace.Access.Audit;
using LlmMarketplace.Access.Keys;

namespace LlmMarketplace.Access.Teams;

public sealed record CreateTeamRequest
{
    public string? Name { get; init; }
    public long? Rpm { get; init; }
    public long? Tpm { get; init; }
}

public sealed record TeamDto(string Id, string Name, long? Rpm, long? Tpm, DateTimeOffset CreatedAt);

public sealed record CreateAppRequest
{
    public string? Name { get; init; }
    public string? Team { get; init; }
    public long? Rpm { get; init; }
    public long? Tpm { get; init; }
}

public sealed record AppDto(string Id, string Name, string TeamId, long? Rpm, long? Tpm, DateTimeOffset CreatedAt);

public sealed record ListResponse<T>(IReadOnlyList<T> Data, long Total);

/// <summary><c>/api/v1/teams</c> and <c>/api/v1/apps</c>: consumers and their applications.</summary>
internal static class TeamsApi
{
    public static async Task<Results<Created<TeamDto>, ValidationProblem, ProblemHttpResult>> CreateTeamAsync(
        JsonBody<CreateTeamRequest> body, AccessStore store, AccessDirectory directory, TimeProvider time, HttpContext context, CancellationToken cancellationToken)
    {
        if (!body.IsValid) return body.Problem();
        var request = body.Value;
        var errors = new ValidationErrors();
        var name = CheckNameAndLimits(request.Name, request.Rpm, request.Tpm, errors);
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());
        if (directory.Current.FindTeam(name!) is not null) return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: $"A team named '{name}' exists.");
        var row = new TeamRow { Id = KeyService.NewId("team"), Name = name!, Rpm = request.Rpm, Tpm = request.Tpm, CreatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds() };
        return await InsertAsync("INSERT INTO access_teams (id, name, rpm, tpm, created_at_ms) VALUES (@Id, @Name, @Rpm, @Tpm, @CreatedAtMs)",
            row, "team", row.Id, ToDto(row), store, directory, context, cancellationToken);
    }

    public static Ok<ListResponse<TeamDto>> ListTeams(ClaimsPrincipal user, AccessDirectory directory)
    {
        var caller = CallerIdentity.From(user);
        var teams = directory.Current.Teams.Values.Where(t => caller.CanSeeTeam(t.Id)).OrderBy(static t => t.Name, StringComparer.Ordinal).Select(ToDto).ToList();
        return TypedResults.Ok(new ListResponse<TeamDto>(teams, teams.Count));
    }

    public static async Task<Results<Created<AppDto>, ValidationProblem, ForbidHttpResult>> CreateAppAsync(
        JsonBody<CreateAppRequest> body, ClaimsPrincipal user, AccessStore store, AccessDirectory directory, TimeProvider time, HttpContext context, CancellationToken cancellationToken)
    {
        if (!body.IsValid) return body.Problem();
        var request = body.Value;
        var caller = CallerIdentity.From(user);
        var errors = new ValidationErrors();
        var name = CheckNameAndLimits(request.Name, request.Rpm, request.Tpm, errors);
        var snapshot = directory.Current;
        TeamRow? team = null;
        if (string.IsNullOrWhiteSpace(request.Team)) errors.Add("team", "The app's team is required.");
        else if ((team = snapshot.FindTeam(request.Team)) is null) errors.Add("team", $"Unknown team '{request.Team}'.");
        if (team is not null && name is { Length: > 0 } && snapshot.Apps.Values.Any(a => a.TeamId == team.Id && a.Name == name))
            errors.Add("name", $"The team already has an app named '{name}'.");
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());
        if (!caller.CanManageTeam(team!.Id)) return TypedResults.Forbid();
        var row = new AppRow { Id = KeyService.NewId("app"), TeamId = team.Id, Name = name!, Rpm = request.Rpm, Tpm = request.Tpm, CreatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds() };
        return await InsertAsync("INSERT INTO access_apps (id, team_id, name, rpm, tpm, created_at_ms) VALUES (@Id, @TeamId, @Name, @Rpm, @Tpm, @CreatedAtMs)",
            row, "app", row.Id, ToDto(row), store, directory, context, cancellationToken);
    }

    public static Ok<ListResponse<AppDto>> ListApps(string? team, ClaimsPrincipal user, AccessDirectory directory)
    {
        var caller = CallerIdentity.From(user);
        var snapshot = directory.Current;
        var teamId = team is null ? null : snapshot.FindTeam(team)?.Id ?? team;
        var apps = snapshot.Apps.Values
            .Where(a => caller.CanSeeTeam(a.TeamId) && (teamId is null || a.TeamId == teamId))
            .OrderBy(static a => a.Name, StringComparer.Ordinal).Select(ToDto).ToList();
        return TypedResults.Ok(new ListResponse<AppDto>(apps, apps.Count));
    }

    /// <summary>What a team and an app both carry: a name of at most 200 characters and optional positive limits; returns the trimmed name.</summary>
    private static string? CheckNameAndLimits(string? requested, long? rpm, long? tpm, ValidationErrors errors)
    {
        var name = requested?.Trim();
        if (string.IsNullOrEmpty(name)) errors.Add("name", "A name is required.");
        else if (name.Length > 200) errors.Add("name", "The name must be at most 200 characters.");
        if (rpm is <= 0) errors.Add("rpm", "rpm must be positive.");
        if (tpm is <= 0) errors.Add("tpm", "tpm must be positive.");
        return name;
    }

    /// <summary>Writes a new team or app, reloads the directory so that keys can use it at once, audits it and answers 201.</summary>
    private static async Task<Created<TDto>> InsertAsync<TDto>(string sql, object row, string kind, string id, TDto dto,
        AccessStore store, AccessDirectory directory, HttpContext context, CancellationToken cancellationToken)
    {
        await using (var connection = await store.OpenAsync(cancellationToken))
        {
            await connection.ExecuteAsync(new CommandDefinition(sql, row, cancellationToken: cancellationToken));
        }
        await directory.ReloadAsync(cancellationToken);
        await AccessAudit.RecordAsync(context, kind + ".created", kind, id, after: dto);
        return TypedResults.Created($"/api/v1/{kind}s/{id}", dto);
    }

    private static TeamDto ToDto(TeamRow t) => new(t.Id, t.Name, t.Rpm, t.Tpm, DateTimeOffset.FromUnixTimeMilliseconds(t.CreatedAtMs));

    private static AppDto ToDto(AppRow a) => new(a.Id, a.Name, a.TeamId, a.Rpm, a.Tpm, DateTimeOffset.FromUnixTimeMilliseconds(a.CreatedAtMs));
}

