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
        var name = request.Name?.Trim();
        if (string.IsNullOrEmpty(name)) errors.Add("name", "A name is required.");
        else if (name.Length > 200) errors.Add("name", "The name must be at most 200 characters.");
        if (request.Rpm is <= 0) errors.Add("rpm", "rpm must be positive.");
        if (request.Tpm is <= 0) errors.Add("tpm", "tpm must be positive.");
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());
        if (directory.Current.FindTeam(name!) is not null) return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: $"A team named '{name}' exists.");
        var row = new TeamRow { Id = KeyService.NewId("team"), Name = name!, Rpm = request.Rpm, Tpm = request.Tpm, CreatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds() };
        await using (var connection = await store.OpenAsync(cancellationToken))
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO access_teams (id, name, rpm, tpm, created_at_ms) VALUES (@Id, @Name, @Rpm, @Tpm, @CreatedAtMs)", row, cancellationToken: cancellationToken));
        }
        await directory.ReloadAsync(cancellationToken);
        await AccessAudit.RecordAsync(context, "team.created", "team", row.Id, after: ToDto(row));
        return TypedResults.Created($"/api/v1/teams/{row.Id}", ToDto(row));
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
        var name = request.Name?.Trim();
        if (string.IsNullOrEmpty(name)) errors.Add("name", "A name is required.");
        else if (name.Length > 200) errors.Add("name", "The name must be at most 200 characters.");
        if (request.Rpm is <= 0) errors.Add("rpm", "rpm must be positive.");
        if (request.Tpm is <= 0) errors.Add("tpm", "tpm must be positive.");
        var snapshot = directory.Current;
        TeamRow? team = null;
        if (string.IsNullOrWhiteSpace(request.Team)) errors.Add("team", "The app's team is required.");
        else if ((team = snapshot.FindTeam(request.Team)) is null) errors.Add("team", $"Unknown team '{request.Team}'.");
        if (team is not null && name is { Length: > 0 } && snapshot.Apps.Values.Any(a => a.TeamId == team.Id && a.Name == name))
            errors.Add("name", $"The team already has an app named '{name}'.");
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());
        if (!caller.CanManageTeam(team!.Id)) return TypedResults.Forbid();
        var row = new AppRow { Id = KeyService.NewId("app"), TeamId = team.Id, Name = name!, Rpm = request.Rpm, Tpm = request.Tpm, CreatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds() };
        await using (var connection = await store.OpenAsync(cancellationToken))
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO access_apps (id, team_id, name, rpm, tpm, created_at_ms) VALUES (@Id, @TeamId, @Name, @Rpm, @Tpm, @CreatedAtMs)", row, cancellationToken: cancellationToken));
        }
        await directory.ReloadAsync(cancellationToken);
        await AccessAudit.RecordAsync(context, "app.created", "app", row.Id, after: ToDto(row));
        return TypedResults.Created($"/api/v1/apps/{row.Id}", ToDto(row));
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

    private static TeamDto ToDto(TeamRow t) => new(t.Id, t.Name, t.Rpm, t.Tpm, DateTimeOffset.FromUnixTimeMilliseconds(t.CreatedAtMs));

    private static AppDto ToDto(AppRow a) => new(a.Id, a.Name, a.TeamId, a.Rpm, a.Tpm, DateTimeOffset.FromUnixTimeMilliseconds(a.CreatedAtMs));
}

