using LlmMarketplace.BuildingBlocks.Http;
using LlmMarketplace.Governance.Contracts;
using LlmMarketplace.BuildingBlocks.Distributed;
using LlmMarketplace.BuildingBlocks.Secrets;
using AuthPolicies = LlmMarketplace.BuildingBlocks.Security.Policies;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Governance.Audit;
using LlmMarketplace.Governance.Identity;
using LlmMarketplace.Governance.Policies;
using LlmMarketplace.Governance.Secrets;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmMarketplace.Governance;

/// <summary>Registers and maps the governance module: identity, roles, policies, audit trail, personal data and secrets.</summary>
public static class GovernanceExtensions
{
    public static IHostApplicationBuilder AddGovernance(this IHostApplicationBuilder builder)
    {
        var options = builder.Configuration.ReadValidated<GovernanceOptions>(GovernanceOptions.SectionName, Validate);
        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.AddHttpContextAccessor();
        services.TryAddSingleton(options);
        services.TryAddSingleton<GovernanceMetrics>();
        services.TryAddSingleton<KeyRing>();
        services.TryAddSingleton<RootKeyCheck>();
        services.AddSharedDataProtection();
        services.TryAddSingleton<AuditLog>();
        services.TryAddSingleton<IAuditLog>(static sp => sp.GetRequiredService<AuditLog>());
        services.TryAddSingleton<EncryptedSecretStore>();
        services.TryAddSingleton<ISecretStore>(static sp => sp.GetRequiredService<EncryptedSecretStore>());
        services.TryAddSingleton<PasswordHasher>();
        services.TryAddSingleton<PasswordPolicy>();
        services.TryAddSingleton<UserStore>();
        services.TryAddSingleton<IUserDirectory, UserDirectory>();
        services.TryAddSingleton<TokenService>();
        services.TryAddSingleton<Authenticator>();
        services.TryAddSingleton<ServiceTokenValidator>();
        services.TryAddSingleton<OidcSignIn>();
        services.AddSingleton<ISignInAudit, SignInAudit>();
        services.AddSingleton<ICredentialValidator, AccessTokenValidator>();
        services.AddSingleton<ICredentialValidator>(static sp => sp.GetRequiredService<ServiceTokenValidator>());
        services.TryAddSingleton<PolicyEngine>();
        services.TryAddSingleton<IPolicyDecisions>(static sp => sp.GetRequiredService<PolicyEngine>());
        services.AddSingleton<IGatewayInterceptor, PolicyInterceptor>();
        services.AddSingleton<IModelVisibility, SuspendedListingVisibility>();
        services.TryAddSingleton<ComplianceMonitor>();
        services.AddSingleton<IPolicyChangeListener>(static sp => sp.GetRequiredService<ComplianceMonitor>());
        services.TryAddSingleton(static _ => new BootstrapConsole(Console.Out));
        services.TryAddSingleton<GovernanceStartup>();
        services.AddHostedService(static sp => sp.GetRequiredService<GovernanceStartup>());
        // GovernanceStartup loads both at start; these reload them on another replica's change and every RefreshSeconds.
        var interval = TimeSpan.FromSeconds(options.RefreshSeconds);
        services.AddSnapshotRefresh(new SnapshotRefresh("the policies", PolicyEngine.Topic, interval,
            static (sp, ct) => sp.GetRequiredService<PolicyEngine>().RefreshAsync(ct)) { LoadAtStart = false });
        services.AddSnapshotRefresh(new SnapshotRefresh("service tokens and revoked sessions", ServiceTokenValidator.Topic, interval,
            static (sp, ct) => sp.GetRequiredService<GovernanceStartup>().RefreshIdentityAsync(ct)) { LoadAtStart = false });
        return builder;
    }

    private static void Validate(GovernanceOptions o, ValidationErrors errors)
    {
        const string s = GovernanceOptions.SectionName;
        if (o.AccessTokenMinutes is < 1 or > 1440) errors.Add($"{s}:AccessTokenMinutes", "must be between 1 and 1440");
        if (o.RefreshTokenHours is < 1 or > 24 * 90) errors.Add($"{s}:RefreshTokenHours", "must be between 1 and 2160");
        if (o.MaxFailedLogins is < 1 or > 100) errors.Add($"{s}:MaxFailedLogins", "must be between 1 and 100");
        if (o.SignInAuditInterval < TimeSpan.Zero) errors.Add($"{s}:SignInAuditInterval", "must be zero (audit every one) or positive, e.g. 00:15:00");
        if (o.LockoutMinutes is < 1 or > 7 * 24 * 60) errors.Add($"{s}:LockoutMinutes", "must be between 1 and 10080");
        if (o.PasswordMinLength is < 8 or > 128) errors.Add($"{s}:PasswordMinLength", "must be between 8 and 128");
        if (o.Argon2MemoryKib is < 1024 or > 1024 * 1024) errors.Add($"{s}:Argon2MemoryKib", "must be between 1024 and 1048576");
        if (o.RefreshSeconds is < 1 or > 3600) errors.Add($"{s}:RefreshSeconds", "must be between 1 and 3600");
        if (o.Argon2Iterations is < 1 or > 20) errors.Add($"{s}:Argon2Iterations", "must be between 1 and 20");
        if (!string.IsNullOrWhiteSpace(o.Oidc.Authority) && !Uri.TryCreate(o.Oidc.Authority, UriKind.Absolute, out _)) errors.Add($"{s}:Oidc:Authority", "must be an absolute URL (the issuer)");
        if (!string.IsNullOrWhiteSpace(o.Oidc.Authority) && string.IsNullOrWhiteSpace(o.Oidc.ClientId)) errors.Add($"{s}:Oidc:ClientId", "is required when Oidc:Authority is set");
        if (o.Oidc.ClientSecret is { Length: > 0 } secret && !LlmMarketplace.BuildingBlocks.Secrets.SecretReference.IsReference(secret)) errors.Add($"{s}:Oidc:ClientSecret", "must be a reference (env:NAME or file:PATH), never the secret itself");
        foreach (var role in o.Oidc.DefaultRoles.Where(static r => !Roles.All.Contains(r) || r == Roles.SuperAdmin)) errors.Add($"{s}:Oidc:DefaultRoles", $"'{role}' is not a role that can be given by default");
        if (Classifications.Rank(o.DefaultClassification) is null) errors.Add($"{s}:DefaultClassification", $"must be one of {string.Join(", ", Classifications.Levels)}");
    }

    public static IEndpointRouteBuilder MapGovernanceApi(this IEndpointRouteBuilder app)
    {
        var auth = app.MapGroup("/api/v1/auth").WithTags("Authentication");
        auth.MapPost("/login", AuthApi.LoginAsync).AllowAnonymous().WithName("Login")
            .Produces<TokenPair>().ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status423Locked)
            .WithSummary("Logs in with user name and password; returns a short-lived access token and a refresh token.");
        auth.MapPost("/password", AuthApi.ChangePasswordAsync).AllowAnonymous().WithName("ChangePassword")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status423Locked)
            .WithSummary("Sets a new password (required on first login); ends every session of the user.");
        auth.MapPost("/refresh", AuthApi.RefreshAsync).AllowAnonymous().WithName("RefreshToken")
            .Produces<TokenPair>().ProducesProblem(StatusCodes.Status401Unauthorized)
            .WithSummary("Exchanges a refresh token for a new access token and a new refresh token (rotation).");
        auth.MapPost("/logout", AuthApi.LogoutAsync).RequireAuthorization(AuthPolicies.Authenticated).WithName("Logout")
            .Produces(StatusCodes.Status204NoContent)
            .WithSummary("Ends the session of the access token used.");
        auth.MapGet("/me", AuthApi.Me).RequireAuthorization(AuthPolicies.Authenticated).WithName("GetCurrentPrincipal")
            .WithSummary("Who the caller is: id, roles, teams and credential kind.");
        auth.MapGet("/oidc/login", OidcApi.LoginAsync).AllowAnonymous().WithName("OidcLogin")
            .Produces(StatusCodes.Status302Found).ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Starts OpenID Connect sign-in (authorization code with PKCE): redirects to the identity provider.");
        auth.MapGet("/oidc/callback", OidcApi.CallbackAsync).AllowAnonymous().AllowAnyQuery().WithName("OidcCallback")
            .Produces<TokenPair>().ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Where the identity provider returns; exchanges the code and answers with marketplace tokens.");
        auth.MapPost("/oidc/token", OidcApi.TokenAsync).AllowAnonymous().WithName("OidcExchangeIdToken")
            .Produces<TokenPair>().ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Exchanges an id token of the configured identity provider for marketplace tokens.");
        auth.MapGet("/me/export", UsersApi.ExportMeAsync).RequireAuthorization(AuthPolicies.Authenticated).WithName("ExportMyPersonalData")
            .RequireManagementRateLimit(ManagementLimit.Export)
            .WithSummary("Everything stored about the calling user, as JSON.");

        var users = app.MapGroup("/api/v1/users").WithTags("Users").RequireAuthorization(AuthPolicies.Admin);
        users.MapGet("/", UsersApi.ListAsync).WithName("ListUsers").WithSummary("Lists local users.");
        users.MapPost("/", UsersApi.CreateAsync).WithName("CreateUser").Produces<CreatedUser>(StatusCodes.Status201Created)
            .WithSummary("Creates a user; without a password a one-time password is returned once and must be changed at first login.");
        users.MapGet("/{id}", UsersApi.GetAsync).WithName("GetUser").WithSummary("One user.");
        users.MapPut("/{id}/roles", UsersApi.SetRolesAsync).WithName("SetUserRoles").WithSummary("Replaces the user's roles (super_admin only by a super_admin).");
        users.MapPut("/{id}/teams", UsersApi.SetTeamsAsync).WithName("SetUserTeams").WithSummary("Replaces the user's team memberships.");
        users.MapPost("/{id}/unlock", UsersApi.UnlockAsync).WithName("UnlockUser").WithSummary("Unlocks an account locked by failed logins.");
        users.MapPost("/{id}/disable", static (HttpContext c, string id, UserStore u, TokenService t, ServiceTokenValidator s, IAuditLog a, TimeProvider time) => UsersApi.SetDisabledAsync(c, id, true, u, t, s, a, time))
            .WithName("DisableUser").WithSummary("Disables an account and ends its sessions.");
        users.MapPost("/{id}/enable", static (HttpContext c, string id, UserStore u, TokenService t, ServiceTokenValidator s, IAuditLog a, TimeProvider time) => UsersApi.SetDisabledAsync(c, id, false, u, t, s, a, time))
            .WithName("EnableUser").WithSummary("Enables a disabled account.");
        users.MapGet("/{id}/export", UsersApi.ExportAsync).WithName("ExportUserPersonalData").RequireManagementRateLimit(ManagementLimit.Export).WithSummary("Everything stored about a user, as JSON.");
        users.MapPost("/{id}/erase", UsersApi.EraseAsync).RequireAuthorization(AuthPolicies.SuperAdmin).WithName("EraseUser").Produces(StatusCodes.Status204NoContent)
            .WithSummary("Erases a user's personal data (pseudonymises the account); the audit chain stays intact.");

        var accounts = app.MapGroup("/api/v1/service-accounts").WithTags("Service accounts").RequireAuthorization(AuthPolicies.Admin);
        accounts.MapGet("/", ServiceAccountsApi.ListAsync).WithName("ListServiceAccounts").WithSummary("Lists service accounts.");
        accounts.MapPost("/", ServiceAccountsApi.CreateAsync).WithName("CreateServiceAccount").Produces<CreatedServiceAccount>(StatusCodes.Status201Created).WithSummary("Creates a service account and returns its token once.");
        accounts.MapPost("/{id}/tokens", ServiceAccountsApi.RotateAsync).WithName("CreateServiceAccountToken").Produces<ServiceTokenDto>(StatusCodes.Status201Created).WithSummary("Issues another token for a service account (returned once).");
        accounts.MapDelete("/{id}", ServiceAccountsApi.DeleteAsync).WithName("DeleteServiceAccount").Produces(StatusCodes.Status204NoContent).WithSummary("Disables a service account and revokes its tokens.");

        var audit = app.MapGroup("/api/v1/audit").WithTags("Audit").RequireAuthorization(AuthPolicies.Admin);
        audit.MapGet("/", AuditApi.ListAsync).WithName("ListAuditEntries").RequireManagementRateLimit(ManagementLimit.Analytics)
            .WithSummary("Audit entries, newest first, filtered and paged; format=jsonl exports them oldest first as JSON lines.");
        audit.MapGet("/verify", AuditApi.VerifyAsync).WithName("VerifyAuditTrail")
            .WithSummary("Verifies the hash chain and reports the first broken link.");

        var policies = app.MapGroup("/api/v1/policies").WithTags("Policies");
        policies.MapGet("/", PoliciesApi.ListAsync).RequireAuthorization(AuthPolicies.Viewer).WithName("ListPolicies").WithSummary("Lists policies with their current documents.");
        policies.MapGet("/{id}", PoliciesApi.GetAsync).RequireAuthorization(AuthPolicies.Viewer).WithName("GetPolicy").WithSummary("One policy with every version.");
        policies.MapPost("/", PoliciesApi.CreateAsync).RequireAuthorization(AuthPolicies.Admin).WithName("CreatePolicy").Produces<PolicyDto>(StatusCodes.Status201Created)
            .Accepts<object>("application/json", "application/yaml").WithSummary("Creates a policy from a JSON or YAML document.");
        policies.MapPut("/{id}", PoliciesApi.UpdateAsync).RequireAuthorization(AuthPolicies.Admin).WithName("UpdatePolicy")
            .Accepts<object>("application/json", "application/yaml").WithSummary("Stores a new version of a policy.");
        policies.MapDelete("/{id}", PoliciesApi.DeleteAsync).RequireAuthorization(AuthPolicies.Admin).WithName("DeletePolicy").Produces(StatusCodes.Status204NoContent).WithSummary("Deletes a policy (its versions are kept).");
        policies.MapPost("/reload", PoliciesApi.ReloadAsync).RequireAuthorization(AuthPolicies.Admin).WithName("ReloadPolicies").WithSummary("Recompiles the stored policies.");
        policies.MapPost("/dry-run", PoliciesApi.DryRun).RequireAuthorization(AuthPolicies.Viewer).WithName("DryRunPolicies")
            .WithSummary("Shows the decision for a sample request, optionally with a candidate policy.");

        var compliance = app.MapGroup("/api/v1/governance/compliance").WithTags("Policies").RequireAuthorization(AuthPolicies.Admin);
        compliance.MapGet("/violations", ComplianceApi.ListViolationsAsync).WithName("ListComplianceViolations")
            .WithSummary("Live listings that break a global policy (open by default), with the policy, its reasons and whether the listing is suspended.");

        var secrets = app.MapGroup("/api/v1/secrets").WithTags("Secrets").RequireAuthorization(AuthPolicies.Admin);
        secrets.MapGet("/", SecretsApi.ListAsync).WithName("ListSecrets").WithSummary("Names of the stored secrets (never their values).");
        secrets.MapPut("/{name}", SecretsApi.PutAsync).WithName("PutSecret").WithSummary("Stores a secret, encrypted at rest.");
        secrets.MapDelete("/{name}", SecretsApi.DeleteAsync).WithName("DeleteSecret").WithSummary("Deletes a secret.");
        return app;
    }
}
