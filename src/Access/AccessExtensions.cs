using LlmMarketplace.BuildingBlocks.Http;
using LlmMarketplace.Access.Audit;
using LlmMarketplace.Access.Budgets;
using LlmMarketplace.Access.Keys;
using LlmMarketplace.Access.Limits;
using LlmMarketplace.Access.Metering;
using LlmMarketplace.Access.Pipeline;
using LlmMarketplace.Access.Plans;
using LlmMarketplace.Access.Teams;
using LlmMarketplace.Access.Telemetry;
using LlmMarketplace.BuildingBlocks.Distributed;
using LlmMarketplace.Gateway.Pipeline;
using Microsoft.Extensions.DependencyInjection.Extensions;
using LlmMarketplace.Governance.Contracts;

namespace LlmMarketplace.Access;

/// <summary>Registers and maps the Access module: teams, apps, keys, plans, limits, budgets and metering.</summary>
public static class AccessExtensions
{
    public static IHostApplicationBuilder AddAccess(this IHostApplicationBuilder builder)
    {
        var options = builder.Configuration.ReadValidated<AccessOptions>(AccessOptions.SectionName, Validate);

        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(options);
        services.TryAddSingleton<AccessMetrics>();
        services.TryAddSingleton<AccessEvents>();
        services.TryAddSingleton<AccessStore>();
        services.TryAddSingleton<BudgetLedger>();
        services.TryAddSingleton<AccessDirectory>();
        services.TryAddSingleton<Contracts.ITeamNames, TeamNames>();
        services.TryAddSingleton<InMemoryRateLimitStore>();
        // With Redis (Redis:Configuration), buckets and budget counters are shared by every replica; the guard exists only then.
        services.TryAddSingleton<IRateLimitStore>(static sp => sp.GetService<SharedStateGuard>() is { } guard
            ? new RedisRateLimitStore(guard, sp.GetRequiredService<InMemoryRateLimitStore>())
            : sp.GetRequiredService<InMemoryRateLimitStore>());
        if (DistributedExtensions.ReadOptions(builder.Configuration).IsConfigured)
        {
            services.TryAddSingleton<RedisBudgetCounters>();
            if (options.UsageStream)
            {
                services.TryAddSingleton<UsageStream>();
                services.AddHostedService<UsageStreamConsumer>();
            }
        }
        services.TryAddSingleton<ISubscriptionRequirement, PlanSubscriptionRequirement>();
        services.TryAddSingleton<KeyService>();
        services.TryAddSingleton<BudgetService>();
        services.TryAddSingleton<UsageSpool>();
        services.AddHostedService<UsageSpoolDelivery>();
        services.TryAddSingleton<UsageWriter>();
        services.TryAddSingleton<IUsageFeed, UsageFeed>();
        services.TryAddSingleton<IUsageRecords, UsageRecords>();
        services.AddHostedService(static sp => sp.GetRequiredService<UsageWriter>());
        services.AddHostedService<UsageCheckpointer>();
        // Loaded before the server takes requests; reloaded on another replica's change and every RefreshInterval.
        services.AddSnapshotRefresh(new SnapshotRefresh("the access directory", AccessDirectory.Topic, options.RefreshInterval,
            static (sp, ct) => sp.GetRequiredService<AccessDirectory>().RefreshAsync(ct)));
        services.AddSingleton<ICredentialValidator, ApiKeyValidator>();
        services.TryAddSingleton<AccessInterceptor>();
        services.AddSingleton<IGatewayInterceptor, AccessCallerInterceptor>();
        services.AddSingleton<IGatewayInterceptor>(static sp => sp.GetRequiredService<AccessInterceptor>());
        services.AddSingleton<IPolicyChangeListener, PolicyCapSeeder>();
        services.AddSingleton<IModelVisibility, KeyModelVisibility>();
        services.TryAddSingleton(static sp => new Statements.StatementService(
            sp.GetRequiredService<AccessStore>(), sp.GetRequiredService<AccessDirectory>(), sp.GetRequiredService<TimeProvider>()));
        return builder;
    }

    private static void Validate(AccessOptions o, ValidationErrors errors)
    {
        if (!TimeZoneInfo.TryFindSystemTimeZoneById(o.TimeZone, out _))
            errors.Add("Access:TimeZone", $"Unknown time zone '{o.TimeZone}'; set an IANA id such as UTC or Europe/Paris.");
        if (o.AlertThreshold is <= 0 or > 1) errors.Add("Access:AlertThreshold", "Set a fraction in (0, 1], e.g. 0.8.");
        if (o.MaxBatchSize < 1) errors.Add("Access:MaxBatchSize", "Set a positive number of records.");
        if (o.RefreshInterval <= TimeSpan.Zero) errors.Add("Access:RefreshInterval", "Set a positive interval, e.g. 00:00:05.");
        if (o.UsageStreamClaimAfter <= TimeSpan.Zero) errors.Add("Access:UsageStreamClaimAfter", "Set a positive interval, e.g. 00:00:30.");
        if (o.SpoolRetryInterval <= TimeSpan.Zero) errors.Add("Access:SpoolRetryInterval", "Set a positive interval, e.g. 00:00:05.");
        foreach (var (id, limit) in o.DeploymentLimits)
        {
            if (limit.Rpm is <= 0) errors.Add($"Access:DeploymentLimits:{id}:Rpm", "Set a positive number of requests per minute.");
            if (limit.Tpm is <= 0) errors.Add($"Access:DeploymentLimits:{id}:Tpm", "Set a positive number of tokens per minute.");
        }
    }

    public static IEndpointRouteBuilder MapAccessApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").RequireAuthorization(Policies.Authenticated).WithTags("Access");

        api.MapPost("/keys", KeysApi.CreateAsync).WithName("CreateApiKey").Accepts<CreateKeyRequest>("application/json")
            .WithSummary("Creates an API key; the secret is in the response once and never again.");
        api.MapGet("/keys", KeysApi.ListAsync).WithName("ListApiKeys").WithSummary("Lists API keys (admins: all; members: their teams').");
        api.MapGet("/keys/{id}", KeysApi.GetAsync).WithName("GetApiKey").WithSummary("Reads one API key (never its secret).");
        api.MapDelete("/keys/{id}", KeysApi.RevokeAsync).WithName("RevokeApiKey").WithSummary("Revokes an API key at once.");
        api.MapPost("/keys/{id}/rotate", KeysApi.RotateAsync).WithName("RotateApiKey").Accepts<RotateKeyRequest>("application/json")
            .WithSummary("Gives a key a new secret; the old one keeps working for overlapSeconds.");

        api.MapPost("/teams", TeamsApi.CreateTeamAsync).WithName("CreateTeam").Accepts<CreateTeamRequest>("application/json").WithSummary("Creates a team.")
            .RequireAuthorization(Policies.Admin);
        api.MapGet("/teams", TeamsApi.ListTeams).WithName("ListTeams").WithSummary("Lists teams (admins: all; members: theirs).");
        api.MapPost("/apps", TeamsApi.CreateAppAsync).WithName("CreateApp").Accepts<CreateAppRequest>("application/json").WithSummary("Creates a consumer application in a team.");
        api.MapGet("/apps", TeamsApi.ListApps).WithName("ListApps").WithSummary("Lists apps (admins: all; members: their teams').");

        api.MapPost("/budgets", static async Task<Microsoft.AspNetCore.Http.HttpResults.Results<Microsoft.AspNetCore.Http.HttpResults.Created<BudgetDto>, Microsoft.AspNetCore.Http.HttpResults.ValidationProblem>> (JsonBody<CreateBudgetRequest> body, BudgetService budgets, HttpContext context, CancellationToken ct) =>
            {
                if (!body.IsValid) return body.Problem();
                var (budget, errors) = await budgets.CreateAsync(body.Value, ct);
                if (budget is null) return TypedResults.ValidationProblem(errors.ToDictionary());
                await AccessAudit.RecordAsync(context, "budget.created", "budget", budget.Id, after: budget);
                return TypedResults.Created($"/api/v1/budgets/{budget.Id}", budget);
            })
            .WithName("CreateBudget").Accepts<CreateBudgetRequest>("application/json").WithSummary("Sets a USD and/or token budget on a key, app, team or user for a calendar period.")
            .RequireAuthorization(Policies.Admin);
        api.MapGet("/budgets", static (System.Security.Claims.ClaimsPrincipal user, BudgetService budgets) =>
            {
                var list = budgets.List(CallerIdentity.From(user)).ToList();
                return TypedResults.Ok(new ListResponse<BudgetDto>(list, list.Count));
            })
            .WithName("ListBudgets").WithSummary("Lists budgets with their spend in the current period.");
        api.MapDelete("/budgets/{id}", static async Task<Microsoft.AspNetCore.Http.HttpResults.Results<Microsoft.AspNetCore.Http.HttpResults.NoContent, Microsoft.AspNetCore.Http.HttpResults.NotFound>> (string id, BudgetService budgets, AccessDirectory directory, HttpContext context, CancellationToken ct) =>
            {
                var before = directory.Current.Budgets.FirstOrDefault(b => b.Id == id) is { } row ? budgets.ToDto(row) : null;
                if (!await budgets.DeleteAsync(id, ct)) return TypedResults.NotFound();
                await AccessAudit.RecordAsync(context, "budget.deleted", "budget", id, before);
                return TypedResults.NoContent();
            })
            .WithName("DeleteBudget").WithSummary("Removes a budget.")
            .RequireAuthorization(Policies.Admin);

        api.MapPost("/plans", PlansApi.CreatePlanAsync).WithName("CreatePlan").Accepts<CreatePlanRequest>("application/json")
            .WithSummary("Offers a plan (limits, token quota, price, approval) on a model; the model then requires a subscription for non-direct keys.")
            .RequireAuthorization(Policies.Admin);
        api.MapGet("/plans", PlansApi.ListPlans).WithName("ListPlans").WithSummary("Lists plans, optionally of one model.");
        api.MapPost("/subscriptions", PlansApi.SubscribeAsync).WithName("CreateSubscription").Accepts<CreateSubscriptionRequest>("application/json")
            .WithSummary("Subscribes an app to a plan: active at once, or submitted when the plan requires approval.");
        api.MapGet("/subscriptions", PlansApi.ListSubscriptions).WithName("ListSubscriptions").WithSummary("Lists subscriptions.");
        api.MapPost("/subscriptions/{id}/{action}", PlansApi.TransitionAsync).WithName("ChangeSubscription")
            .WithSummary("approve | reject | suspend | resume | cancel a subscription.");

        api.MapGet("/usage", UsageApi.GetAsync).WithName("GetUsage").RequireManagementRateLimit(ManagementLimit.Analytics)
            .WithQuery(
                new QueryParameter("limit", QueryType.Integer, "Page size (1-10000, default 100)."), new QueryParameter("offset", QueryType.Integer, "Rows to skip."),
                new QueryParameter("from", QueryType.DateTime), new QueryParameter("to", QueryType.DateTime),
                new QueryParameter("groupBy", Values: ["day", "model", "app", "listing"]), new QueryParameter("format", Values: ["json", "csv"]),
                new QueryParameter("keyId"), new QueryParameter("appId"), new QueryParameter("app", Description: "Alias of appId."),
                new QueryParameter("teamId"), new QueryParameter("team", Description: "Alias of teamId."), new QueryParameter("userId"),
                new QueryParameter("model"), new QueryParameter("listing"), new QueryParameter("requestId"))
            .WithSummary("Usage records newest first (filters: from, to, teamId, appId, keyId, userId, model, requestId; limit ≤ 10000, offset), groupBy=day|model|app, format=csv.")
            .Produces<UsagePage<UsageDto>>()
            .Produces(StatusCodes.Status200OK, contentType: "text/csv");

        var statements = app.MapGroup("/api/v1/statements").RequireAuthorization(Policies.Authenticated).WithTags("Statements")
            .RequireManagementRateLimit(ManagementLimit.Analytics);
        statements.MapGet("", Statements.StatementsApi.GetAsync).WithName("GetStatement").WithQuery(Statements.StatementsApi.StatementQuery)
            .WithSummary("A team's statement of a month (members: their teams; admins and viewers: any): prorated subscription fees, usage cost by model and listing, adjustments, totals in USD; JSON or CSV.")
            .Produces<Statements.Statement>()
            .Produces(StatusCodes.Status200OK, contentType: "text/csv")
            .ProducesProblem(StatusCodes.Status404NotFound);
        statements.MapGet("/publisher", Statements.StatementsApi.PublisherAsync).WithName("GetPublisherStatement").WithQuery(Statements.StatementsApi.PublisherQuery)
            .WithSummary("The revenue of the listings a team publishes in a month, per listing and plan (usage by every consuming team, prorated subscription fees).")
            .Produces<Statements.PublisherStatement>()
            .ProducesProblem(StatusCodes.Status404NotFound);
        statements.MapPost("/adjustments", Statements.StatementsApi.AdjustAsync).WithName("CreateStatementAdjustment").Accepts<Statements.CreateAdjustmentRequest>("application/json")
            .WithSummary("Adds a credit (negative) or debit (positive) line with a reason to a team's statement of a month (admins; audited).")
            .RequireAuthorization(Policies.Admin);
        return app;
    }
}

/// <summary>Public names of the module's telemetry, for the host's exporters.</summary>
public static class AccessModule
{
    public const string MeterName = Telemetry.AccessMetrics.MeterName;
}
