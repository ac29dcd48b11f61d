using LlmMarketplace.BuildingBlocks.Distributed;
using LlmMarketplace.BuildingBlocks.Http;
using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.Catalog.Import;
using LlmMarketplace.Catalog.Publishing;
using LlmMarketplace.Catalog.Routing;
using LlmMarketplace.Catalog.Search;
using LlmMarketplace.Catalog.Storage;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Routing;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection.Extensions;
using LlmMarketplace.Catalog.Contracts;

namespace LlmMarketplace.Catalog;

/// <summary>Registers and maps the catalog module: listings, versions, approvals, search, import, reviews.</summary>
public static class CatalogExtensions
{
    /// <summary>Publishers: admins, or callers with a team claim (they publish for their teams only).</summary>
    public const string PublisherPolicy = "catalog_publisher";

    /// <summary>Approvers: super_admin, admin, approver.</summary>
    public const string ApproverPolicy = "catalog_approver";

    /// <summary>The catalog's meter name, for the telemetry pipeline.</summary>
    public const string MeterName = CatalogMetrics.MeterName;

    public static IHostApplicationBuilder AddCatalog(this IHostApplicationBuilder builder)
    {
        var options = CatalogOptions.Read(builder.Configuration);
        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(options);
        services.TryAddSingleton<CatalogStore>();
        services.TryAddSingleton<CatalogMetrics>();
        services.TryAddSingleton<EmbeddingClient>();
        services.TryAddSingleton<CatalogState>();
        services.TryAddSingleton<ServiceChecker>();
        services.TryAddSingleton<PublishingService>();
        services.TryAddSingleton(static sp => new ImportService(sp.GetRequiredService<BuildingBlocks.Storage.Database>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ImportService>>(), sp.GetRequiredService<CatalogMetrics>(), sp.GetRequiredService<ICatalogAuditSink>()));
        // The platform's audit trail and policies (Governance), injected: the host always composes every module.
        services.TryAddSingleton<ICatalogAuditSink, AuditLogCatalogSink>();
        services.TryAddSingleton<ICatalogPublishPolicy, PolicyPublishPolicy>();
        services.TryAddSingleton<ConfiguredModelListings>();
        // Team names (Access).
        services.TryAddSingleton<PublisherNames>();
        services.AddSingleton<IModelSource, CatalogModelSource>();
        services.TryAddSingleton<IListingDirectory, CatalogListingDirectory>();
        services.AddSingleton<IGatewayInterceptor, DeprecationInterceptor>();
        services.AddSingleton<IGatewayInterceptor, CallabilityInterceptor>();
        services.AddSingleton<IModelVisibility, CatalogModelVisibility>();
        // Measured service levels (Insights).
        services.TryAddSingleton<ServiceLevels.ListingServiceLevels>();
        services.TryAddSingleton<Registry.SourceStore>();
        services.TryAddSingleton<Registry.SourceSync>();
        services.TryAddSingleton(static sp => new Registry.CatalogSources(sp.GetRequiredService<CatalogOptions>(), sp.GetRequiredService<Registry.SourceSync>()));
        services.AddHostedService<Registry.SourceSyncWorker>();
        // Durable usage (Insights).
        services.TryAddSingleton<UsageTracker>();
        // Loaded once the database is migrated, with the gateway's configured models listed first; reloaded every
        // RefreshSeconds for changes made by other replicas (and to the configuration).
        services.AddSnapshotRefresh(new SnapshotRefresh("the catalog", null, TimeSpan.FromSeconds(options.RefreshSeconds),
            static async (sp, ct) =>
            {
                await sp.GetRequiredService<ConfiguredModelListings>().SyncAsync(ct);
                await sp.GetRequiredService<CatalogState>().ReloadAsync(ct);
            }));
        services.AddAuthorizationBuilder()
            .AddPolicy(PublisherPolicy, p => p.RequireAuthenticatedUser().RequireAssertion(static c =>
                c.User.IsInRole(Roles.SuperAdmin) || c.User.IsInRole(Roles.Admin) || c.User.HasClaim(static x => x.Type == MarketplaceClaims.TeamId)))
            .AddPolicy(ApproverPolicy, p => p.RequireRole(Roles.SuperAdmin, Roles.Admin, Roles.Approver));
        return builder;
    }

    public static IEndpointRouteBuilder MapCatalogApi(this IEndpointRouteBuilder app)
    {
        var options = app.ServiceProvider.GetRequiredService<CatalogOptions>();

        var browse = app.MapGroup("/api/v1").WithTags("Catalog discovery");
        if (options.PublicBrowsing) browse.AllowAnonymous();
        else browse.RequireAuthorization(Policies.Authenticated);
        browse.MapGet("/search", SearchApi.SearchAsync).WithName("SearchCatalog").WithQuery(SearchApi.Query).RequireManagementRateLimit(ManagementLimit.Search)
            .WithSummary("Full-text search (BM25, typo tolerant) with filters, sorts, facets and paging.");
        browse.MapGet("/autocomplete", SearchApi.Autocomplete).WithName("AutocompleteCatalog").RequireManagementRateLimit(ManagementLimit.Search)
            .WithSummary("Listing suggestions for what the user is typing (prefix and fuzzy).");
        browse.MapGet("/services/{id}", CatalogApi.GetServiceAsync).WithName("GetService")
            .WithSummary("A service (by id or slug) with its versions, its current version's declared SLA and its measured service level.")
            .Produces<Publishing.ServiceView>().ProducesProblem(StatusCodes.Status404NotFound);
        browse.MapGet("/services/{id}/versions/{version}", CatalogApi.GetVersionAsync).WithName("GetServiceVersion")
            .WithSummary("A version: listing, checks, approvals and transition history.");
        browse.MapGet("/services/{id}/similar", SearchApi.SimilarAsync).WithName("SimilarServices")
            .WithSummary("Listings similar to this one.");
        browse.MapGet("/trending", SearchApi.TrendingAsync).WithName("TrendingServices")
            .WithSummary("Listings by successful gateway calls in the last 24 hours.");
        browse.MapGet("/recommendations", SearchApi.RecommendationsAsync).WithName("RecommendedServices")
            .WithSummary("Listings similar to what the caller's teams use, else trending ones.");
        browse.MapGet("/services/{id}/reviews", CatalogApi.ReviewsAsync).WithName("ListReviews")
            .WithSummary("Ratings and reviews of a service.");

        var publish = app.MapGroup("/api/v1/services").WithTags("Catalog publishing").RequireAuthorization(PublisherPolicy);
        publish.MapPost("", CatalogApi.CreateServiceAsync).WithName("CreateService")
            .WithSummary("Creates a service with its first version (draft).").Accepts<Listings.ListingSpec>("application/json");
        publish.MapPost("/{id}/versions", CatalogApi.AddVersionAsync).WithName("CreateServiceVersion")
            .WithSummary("Adds a version (draft) to a service.").Accepts<Listings.ListingSpec>("application/json");
        publish.MapPost("/{id}/versions/{version}/submit", CatalogApi.SubmitAsync).WithName("SubmitServiceVersion")
            .WithSummary("Runs the automated checks and submits the version for approval.");
        publish.MapPost("/{id}/versions/{version}/deprecate", CatalogApi.DeprecateAsync).WithName("DeprecateServiceVersion")
            .WithSummary("Deprecates a published version with a sunset date and an optional replacement.");
        publish.MapPost("/{id}/versions/{version}/retire", CatalogApi.RetireAsync).WithName("RetireServiceVersion")
            .WithSummary("Retires a version: it is no longer routable.");

        app.MapPost("/api/v1/services/{id}/reviews", CatalogApi.ReviewAsync).WithTags("Catalog discovery").WithName("ReviewService")
            .WithSummary("Rates (1–5) and reviews a service; one review per user, a second one replaces the first.")
            .RequireAuthorization(Policies.Authenticated);

        var approvals = app.MapGroup("/api/v1/approvals").WithTags("Catalog approvals").RequireAuthorization(ApproverPolicy);
        approvals.MapGet("", CatalogApi.PendingApprovalsAsync).WithName("ListPendingApprovals")
            .WithSummary("Versions waiting for approval, with their check results.");
        approvals.MapPost("/{versionId}/approve", static (string versionId, HttpRequest request, PublishingService p, System.Security.Claims.ClaimsPrincipal user, CancellationToken ct) =>
                CatalogApi.DecideAsync(versionId, true, request, p, user, ct))
            .WithName("ApproveServiceVersion").WithSummary("Approves a pending version (publishes it once enough approvers agreed).");
        approvals.MapPost("/{versionId}/reject", static (string versionId, HttpRequest request, PublishingService p, System.Security.Claims.ClaimsPrincipal user, CancellationToken ct) =>
                CatalogApi.DecideAsync(versionId, false, request, p, user, ct))
            .WithName("RejectServiceVersion").WithSummary("Rejects a pending version with a reason (back to draft).");

        app.MapPost("/api/v1/catalog/import", CatalogApi.ImportAsync).WithTags("Catalog administration").WithName("ImportCatalog").RequireManagementRateLimit(ManagementLimit.Import)
            .WithSummary("Imports an OpenRouter or models.dev models file (idempotent).")
            .Accepts<object>("application/json")
            .RequireAuthorization(Policies.Admin);
        Registry.SourcesApi.MapCatalogSourcesApi(app);
        return app;
    }
}
