using LlmMarketplace.Governance.Contracts;

namespace LlmMarketplace.Governance.Identity;

/// <summary><c>/api/v1/service-accounts</c>: non-human callers with their own long-lived tokens (shown once, stored hashed).</summary>
internal static class ServiceAccountsApi
{
    public static async Task<Ok<UserList>> ListAsync(UserStore users, TimeProvider time, CancellationToken ct)
    {
        var list = await users.ListAsync(UserKinds.Service, 1000, 0, ct);
        var now = time.GetUtcNow();
        return TypedResults.Ok(new UserList(list.Select(u => UserDto.From(u, now)).ToList()));
    }

    public static async Task<IResult> CreateAsync(HttpContext context, CreateServiceAccountRequest? body, UserStore users, ServiceTokenValidator validator, IAuditLog audit, TimeProvider time)
    {
        var errors = new ValidationErrors();
        if (string.IsNullOrWhiteSpace(body?.Name) || body.Name.Length > 64 || !body.Name.All(static c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            errors.Add("name", "use 1-64 characters: letters, digits, '.', '_', '-'");
        }
        RoleRules.Check(body?.Roles, "roles", serviceAccount: true, errors);
        var teams = UsersApi.CheckTeams(body?.Teams, errors);
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());
        var roles = (body!.Roles is { Count: > 0 } r ? r : [Roles.ServiceAccount]).Distinct(StringComparer.Ordinal).ToList();
        if (!roles.Contains(Roles.ServiceAccount)) roles.Add(Roles.ServiceAccount);
        if (roles.Contains(Roles.Admin) && !context.User.IsInRole(Roles.SuperAdmin))
        {
            return AuthApi.Problem(StatusCodes.Status403Forbidden, "Forbidden", "Only a super_admin can create an admin service account.", "insufficient_permissions");
        }
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var account = new UserRecord
        {
            Id = Guid.NewGuid().ToString("N"),
            Username = "sa." + body.Name,
            Kind = UserKinds.Service,
            CreatedAt = now,
            Roles = roles,
            Teams = teams,
        };
        if (!await users.InsertAsync(account, context.RequestAborted))
        {
            return TypedResults.Conflict(new HttpValidationProblemDetails(new Dictionary<string, string[]> { ["name"] = [$"'{body.Name}' is taken"] }) { Status = 409, Title = "Conflict" });
        }
        var token = await IssueAsync(account.Id, users, now, context.RequestAborted);
        await validator.ReloadAsync(context.RequestAborted);
        await audit.AppendAsync(AuditEntry.ForRequest(context, "service_account.created", "user", account.Id) with { After = UsersApi.Snapshot(account) }, context.RequestAborted);
        return TypedResults.Created($"/api/v1/service-accounts/{account.Id}", new CreatedServiceAccount(UserDto.From(account, time.GetUtcNow()), token));
    }

    public static async Task<IResult> RotateAsync(HttpContext context, string id, UserStore users, ServiceTokenValidator validator, IAuditLog audit, TimeProvider time)
    {
        var account = await users.FindByIdAsync(id, context.RequestAborted);
        if (account is not { Kind: UserKinds.Service } || account.Disabled != 0) return TypedResults.NotFound();
        var token = await IssueAsync(id, users, time.GetUtcNow().ToUnixTimeMilliseconds(), context.RequestAborted);
        await validator.ReloadAsync(context.RequestAborted);
        await audit.AppendAsync(AuditEntry.ForRequest(context, "service_account.token_created", "user", id), context.RequestAborted);
        return TypedResults.Created($"/api/v1/service-accounts/{id}", new ServiceTokenDto(token));
    }

    public static async Task<IResult> DeleteAsync(HttpContext context, string id, UserStore users, ServiceTokenValidator validator, IAuditLog audit, TimeProvider time)
    {
        var account = await users.FindByIdAsync(id, context.RequestAborted);
        if (account is not { Kind: UserKinds.Service }) return TypedResults.NotFound();
        await users.SetDisabledAsync(id, true, context.RequestAborted);
        await validator.ReloadAsync(context.RequestAborted);
        await audit.AppendAsync(AuditEntry.ForRequest(context, "service_account.revoked", "user", id), context.RequestAborted);
        return TypedResults.NoContent();
    }

    private static async Task<string> IssueAsync(string userId, UserStore users, long now, CancellationToken ct)
    {
        var token = TokenService.NewServiceToken();
        await users.InsertServiceTokenAsync(Guid.NewGuid().ToString("N"), userId, TokenService.HashToken(token), now, ct);
        return token;
    }
}
