using LlmMarketplace.BuildingBlocks.Http;
using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.Catalog.Publishing;

namespace LlmMarketplace.Catalog.Registry;

/// <summary><c>GET /api/v1/catalog/sources</c> and <c>POST /api/v1/catalog/sources/{name}/sync</c> (administrators).</summary>
internal static class SourcesApi
{
    public static IEndpointRouteBuilder MapCatalogSourcesApi(this IEndpointRouteBuilder app)
    {
        var sources = app.MapGroup("/api/v1/catalog/sources").WithTags("Catalog administration").RequireAuthorization(Policies.Admin);
        sources.MapGet("", ListAsync).WithName("ListCatalogSources")
            .WithSummary("The configured registry sources with their last sync (time, outcome, counts) and the next scheduled one.")
            .Produces<SourcesResponse>();
        sources.MapPost("/{name}/sync", SyncAsync).WithName("SyncCatalogSource").RequireManagementRateLimit(ManagementLimit.Import)
            .WithSummary("Syncs a registry source now and answers what changed; with dryRun=true, what would change, applying nothing.")
            .Produces<SyncResult>()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status502BadGateway);
        return app;
    }

    public static async Task<IResult> ListAsync(CatalogOptions options, SourceStore store, TimeProvider time, CancellationToken ct)
    {
        var rows = await store.AllAsync(ct);
        var items = options.Sources.Select(s =>
        {
            var row = rows.GetValueOrDefault(s.Name);
            var last = row?.LastSyncMs is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : (DateTimeOffset?)null;
            DateTimeOffset? next = s.IntervalMinutes <= 0 ? null : last is null ? time.GetUtcNow() : last.Value.AddMinutes(s.IntervalMinutes);
            JsonElement? result = row?.LastResult is { } json ? JsonDocument.Parse(json).RootElement.Clone() : null;
            return new SourceView(s.Name, s.Url, s.Format, s.IntervalMinutes, s.Deployments.Select(static d => new SourceDeploymentView(d.Provider, d.Type ?? "openai", d.BaseUrl,
                d.ApiKey is null ? null : "(reference set)", d.Region)).ToList(), last, row?.LastStatus, result, row?.LastError, next);
        }).ToList();
        return TypedResults.Ok(new SourcesResponse(items));
    }

    public static async Task<IResult> SyncAsync(string name, bool? dryRun, CatalogSources sources, ClaimsPrincipal user, CancellationToken ct)
    {
        if (sources.Find(name) is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: sources.UnknownSource(name));
        }
        try
        {
            var result = await sources.SyncAsync(name, dryRun ?? false, Caller.Actor(user), ct);
            return result is null
                ? TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Sync in progress", detail: $"The source '{name}' is being synced right now; try again when it finished.")
                : TypedResults.Ok(result);
        }
        catch (SourceUnreadableException ex)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status502BadGateway, title: "The source could not be read", detail: ex.Message);
        }
    }
}

internal sealed record SourcesResponse(IReadOnlyList<SourceView> Data);

/// <summary>A source as administrators see it; credentials only as <c>(reference set)</c>.</summary>
internal sealed record SourceView(string Name, string Url, string Format, int IntervalMinutes, IReadOnlyList<SourceDeploymentView> Deployments,
    DateTimeOffset? LastSyncAt, string? LastStatus, JsonElement? LastResult, string? LastError, DateTimeOffset? NextSyncAt);

internal sealed record SourceDeploymentView(string Provider, string Type, string BaseUrl, string? ApiKey, string? Region);
