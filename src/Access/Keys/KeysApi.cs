using LlmMarketplace.Access.Audit;
using LlmMarketplace.Access.Teams;

namespace LlmMarketplace.Access.Keys;

public sealed record RotateKeyRequest
{
    public long? OverlapSeconds { get; init; }
}

/// <summary><c>/api/v1/keys</c>: create (the secret is shown once), list, read, revoke and rotate API keys.</summary>
internal static class KeysApi
{
    public static async Task<Results<Created<KeyDto>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        JsonBody<CreateKeyRequest> body, ClaimsPrincipal user, KeyService keys, HttpContext context, CancellationToken cancellationToken)
    {
        if (!body.IsValid) return body.Problem();
        var caller = CallerIdentity.From(user);
        var (key, errors, forbidden) = await keys.CreateAsync(body.Value, caller, cancellationToken);
        if (forbidden is not null)
        {
            await AccessAudit.RecordAsync(context, "key.create_denied", "api_key", "", outcome: "failure",
                after: new { body.Value.Team, body.Value.App, body.Value.User, reason = forbidden });
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: forbidden);
        }
        if (key is null) return TypedResults.ValidationProblem(errors.ToDictionary());
        await AccessAudit.RecordAsync(context, "key.created", "api_key", key.Id, after: key);
        if (key.User is { } owner && owner != caller.PersonId)
        {
            // An admin issued a key that acts for someone else: recorded against that person too.
            await AccessAudit.RecordAsync(context, "key.issued_for_user", "user", owner, after: key);
        }
        return TypedResults.Created($"/api/v1/keys/{key.Id}", key);
    }

    public static async Task<Ok<ListResponse<KeyDto>>> ListAsync(string? team, string? app, bool? includeRevoked, ClaimsPrincipal user, KeyService keys, AccessDirectory directory, TimeProvider time, CancellationToken cancellationToken)
    {
        var caller = CallerIdentity.From(user);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var snapshot = directory.Current;
        var teamId = team is null ? null : snapshot.FindTeam(team)?.Id ?? team;
        var rows = (await keys.AllRowsAsync(cancellationToken))
            .Where(r => (includeRevoked == true || r.RevokedAtMs is null || r.RevokedAtMs > now)
                && (teamId is null || r.TeamId == teamId) && (app is null || r.AppId == app));
        var list = keys.List(caller, snapshot, rows).ToList();
        return TypedResults.Ok(new ListResponse<KeyDto>(list, list.Count));
    }

    public static async Task<Results<Ok<KeyDto>, NotFound>> GetAsync(string id, ClaimsPrincipal user, KeyService keys, AccessDirectory directory, CancellationToken cancellationToken)
    {
        var row = await keys.FindRowAsync(id, cancellationToken);
        if (row is null || !CallerIdentity.From(user).CanSeeTeam(row.TeamId)) return TypedResults.NotFound();
        return TypedResults.Ok(keys.ToDto(row, directory.Current));
    }

    public static async Task<Results<Ok<KeyDto>, NotFound, ForbidHttpResult>> RevokeAsync(string id, ClaimsPrincipal user, KeyService keys, AccessDirectory directory, HttpContext context, CancellationToken cancellationToken)
    {
        var caller = CallerIdentity.From(user);
        var row = await keys.FindRowAsync(id, cancellationToken);
        if (row is null || !caller.CanSeeTeam(row.TeamId)) return TypedResults.NotFound();
        if (!caller.CanManageTeam(row.TeamId)) return TypedResults.Forbid();
        var before = keys.ToDto(row, directory.Current);
        var revoked = await keys.RevokeAsync(id, caller.Actor, cancellationToken);
        var after = keys.ToDto(revoked!, directory.Current);
        await AccessAudit.RecordAsync(context, "key.revoked", "api_key", id, before, after);
        return TypedResults.Ok(after);
    }

    public static async Task<Results<Ok<KeyDto>, NotFound, ForbidHttpResult, ValidationProblem>> RotateAsync(
        string id, JsonBody<RotateKeyRequest> body, ClaimsPrincipal user, KeyService keys, AccessDirectory directory, HttpContext context, CancellationToken cancellationToken)
    {
        if (!body.IsValid) return body.Problem();
        var caller = CallerIdentity.From(user);
        var overlap = body.Value.OverlapSeconds ?? 0;
        if (overlap is < 0 or > 30L * 24 * 3600)
        {
            var errors = new ValidationErrors();
            errors.Add("overlapSeconds", "overlapSeconds must be between 0 and 2592000 (30 days).");
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }
        var row = await keys.FindRowAsync(id, cancellationToken);
        if (row is null || !caller.CanSeeTeam(row.TeamId)) return TypedResults.NotFound();
        if (!caller.CanManageTeam(row.TeamId)) return TypedResults.Forbid();
        var before = keys.ToDto(row, directory.Current);
        var rotated = await keys.RotateAsync(id, TimeSpan.FromSeconds(overlap), cancellationToken);
        if (rotated is not { } r) return TypedResults.NotFound();
        var after = keys.ToDto(r.Row, directory.Current);
        await AccessAudit.RecordAsync(context, "key.rotated", "api_key", id, before, after with { Key = null });
        return TypedResults.Ok(after with { Key = r.Secret });
    }
}
