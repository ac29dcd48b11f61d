using LlmMarketplace.Governance.Contracts;
using LlmMarketplace.Governance.Policies;
using Microsoft.Extensions.Options;

namespace LlmMarketplace.Governance.Identity;

/// <summary>
/// On start (after migrations): checks the root key against the database's (<see cref="Secrets.RootKeyCheck"/>), loads
/// service tokens, revoked sessions and policies into memory, and on the first run without <c>LLMM_MASTER_KEY</c>
/// creates an administrator whose one-time password is printed once to the console.
/// </summary>
internal sealed class GovernanceStartup(
    UserStore users, PasswordHasher hasher, TokenService tokens, ServiceTokenValidator serviceTokens, PolicyEngine policies,
    IAuditLog audit, TimeProvider time, IOptionsMonitor<MarketplaceAuthenticationOptions> authentication, BootstrapConsole console,
    Secrets.RootKeyCheck rootKey, ILogger<GovernanceStartup> logger) : IHostedService
{
    public const string BootstrapUsername = "admin";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await rootKey.VerifyAsync(cancellationToken);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var (id, expires) in await users.RevokedSessionsAsync(now, cancellationToken))
        {
            tokens.Remember(id, expires);
        }
        await serviceTokens.RefreshAsync(cancellationToken);
        await policies.RefreshAsync(cancellationToken);

        var masterKey = authentication.Get(MarketplaceAuthenticationHandler.SchemeName).MasterKey;
        if (masterKey is null && !await users.AnyUserAsync(cancellationToken))
        {
            await CreateBootstrapAdminAsync(now, cancellationToken);
        }
    }

    /// <summary>Reloads revoked sessions and service tokens (another replica's change, the periodic catch-up).</summary>
    public async Task RefreshIdentityAsync(CancellationToken cancellationToken)
    {
        foreach (var (id, expires) in await users.RevokedSessionsAsync(time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken))
        {
            tokens.Remember(id, expires);
        }
        await serviceTokens.RefreshAsync(cancellationToken);
    }

    private async Task CreateBootstrapAdminAsync(long now, CancellationToken cancellationToken)
    {
        var password = PasswordPolicy.Generate();
        var admin = new UserRecord
        {
            Id = Guid.NewGuid().ToString("N"),
            Username = BootstrapUsername,
            Kind = UserKinds.User,
            PasswordHash = hasher.Hash(password),
            MustChangePassword = 1,
            CreatedAt = now,
            Roles = [Roles.SuperAdmin],
        };
        if (!await users.InsertAsync(admin, cancellationToken))
        {
            return; // another replica made it
        }
        await audit.AppendAsync(new AuditEntry { Action = "user.created", TargetType = "user", TargetId = admin.Id, After = UsersApi.Snapshot(admin) }, cancellationToken);
        Log.BootstrapAdminCreated(logger, BootstrapUsername);
        // Printed once, to the console only (never to the log pipeline), as the first-run instructions.
        console.Writer.WriteLine();
        console.Writer.WriteLine("==================================================================");
        console.Writer.WriteLine(" First run: an administrator account was created.");
        console.Writer.WriteLine($"   user name:          {BootstrapUsername}");
        console.Writer.WriteLine($"   one-time password:  {password}");
        console.Writer.WriteLine(" It is shown only now. Set a new password before first use:");
        console.Writer.WriteLine("   POST /api/v1/auth/password {username, currentPassword, newPassword}");
        console.Writer.WriteLine("==================================================================");
        console.Writer.WriteLine();
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Where the first-run password is printed: the console (tests substitute a writer).</summary>
public sealed class BootstrapConsole(TextWriter writer)
{
    public TextWriter Writer { get; } = writer;
}
