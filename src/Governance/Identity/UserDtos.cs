namespace LlmMarketplace.Governance.Identity;

public sealed record UserDto(
    string Id, string Username, string? DisplayName, string? Email, string Kind, IReadOnlyList<string> Roles, IReadOnlyList<TeamMembership> Teams,
    bool Disabled, bool Locked, DateTimeOffset? LockedUntil, long FailedAttempts, bool MustChangePassword, DateTimeOffset CreatedAt, DateTimeOffset? LastLoginAt, DateTimeOffset? ErasedAt)
{
    internal static UserDto From(UserRecord u, DateTimeOffset now) => new(
        u.Id, u.Username, u.DisplayName, u.Email, u.Kind, u.Roles, u.Teams, u.Disabled != 0,
        u.LockedUntil is { } l && l > now.ToUnixTimeMilliseconds(), Time(u.LockedUntil), u.FailedAttempts, u.MustChangePassword != 0,
        DateTimeOffset.FromUnixTimeMilliseconds(u.CreatedAt), Time(u.LastLoginAt), Time(u.ErasedAt));

    internal static DateTimeOffset? Time(long? ms) => ms is { } v ? DateTimeOffset.FromUnixTimeMilliseconds(v) : null;
}

public sealed record TeamInput(string? Id, string? Name);

public sealed record CreateUserRequest(string? Username, string? Password, string? DisplayName, string? Email, IReadOnlyList<string>? Roles, IReadOnlyList<TeamInput>? Teams, bool? MustChangePassword);

public sealed record CreatedUser(UserDto User, string? OneTimePassword);

public sealed record SetRolesRequest(IReadOnlyList<string>? Roles);

public sealed record SetTeamsRequest(IReadOnlyList<TeamInput>? Teams);

public sealed record LoginRequest(string? Username, string? Password);

public sealed record ChangePasswordRequest(string? Username, string? CurrentPassword, string? NewPassword);

public sealed record RefreshRequest(string? RefreshToken);

/// <summary><c>GET /api/v1/auth/me</c>: who is calling. For an API key, <see cref="Id"/> is the key's id and <see cref="Owner"/> the id of the user it was issued to.</summary>
public sealed record MeDto(string Id, string Name, string Credential, IReadOnlyList<string> Roles, IReadOnlyList<string> Teams, string? Owner = null, string? App = null);

public sealed record CreateServiceAccountRequest(string? Name, IReadOnlyList<string>? Roles, IReadOnlyList<TeamInput>? Teams);

public sealed record CreatedServiceAccount(UserDto Account, string Token);

public sealed record ServiceTokenDto(string Token);

/// <summary>Checks role names and who may grant them.</summary>
internal static class RoleRules
{
    public static void Check(IReadOnlyList<string>? roles, string path, bool serviceAccount, BuildingBlocks.Validation.ValidationErrors errors)
    {
        for (var i = 0; i < (roles?.Count ?? 0); i++)
        {
            var role = roles![i];
            if (!Roles.All.Contains(role))
            {
                errors.Add($"{path}[{i}]", $"'{role}' is not a role; roles are {string.Join(", ", Roles.All)}");
            }
            else if (!serviceAccount && role == Roles.ServiceAccount)
            {
                errors.Add($"{path}[{i}]", "service_account belongs to service accounts; create one under /api/v1/service-accounts");
            }
            else if (serviceAccount && role is Roles.SuperAdmin)
            {
                errors.Add($"{path}[{i}]", "a service account cannot be super_admin");
            }
        }
    }
}
