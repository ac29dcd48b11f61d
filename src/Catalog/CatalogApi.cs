using LlmMarketplace.Catalog.Import;
using LlmMarketplace.Catalog.Publishing;
using LlmMarketplace.Catalog.ServiceLevels;
using LlmMarketplace.Catalog.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LlmMarketplace.Catalog;

/// <summary>Handlers of the catalog's management endpoints.</summary>
internal static class CatalogApi
{
    public static async Task<IResult> CreateServiceAsync(HttpRequest request, PublishingService publishing, ClaimsPrincipal user, CancellationToken ct)
    {
        var (spec, problem) = await ReadAsync<ListingSpec>(request, ct);
        return problem ?? ToResult(await publishing.CreateServiceAsync(spec!, user, ct));
    }

    public static async Task<IResult> AddVersionAsync(string id, HttpRequest request, PublishingService publishing, ClaimsPrincipal user, CancellationToken ct)
    {
        var (spec, problem) = await ReadAsync<ListingSpec>(request, ct);
        return problem ?? ToResult(await publishing.AddVersionAsync(id, spec!, user, ct));
    }

    public static async Task<IResult> GetServiceAsync(string id, CatalogStore store, PublishingService publishing, ListingServiceLevels levels, CatalogState state, ClaimsPrincipal user, CancellationToken ct)
    {
        var service = await store.FindServiceAsync(id, ct);
        if (service is null) return NotFound($"service '{id}'");
        var view = await publishing.DescribeAsync(service, ct);
        if (!MaySeeUnpublished(user, service))
        {
            // Drafts and versions under review are for their publisher and the approvers.
            view = view with { Versions = view.Versions.Where(static v => v.State is VersionStates.Published or VersionStates.Deprecated or VersionStates.Retired).ToList() };
            if (view.Versions.Count == 0) return NotFound($"service '{id}'");
        }
        if (view.CurrentVersion is { } current) view = view with { MeasuredSla = await levels.ViewAsync(view.Slug, current, ct) };
        // Administrators and the publisher see why the current version cannot be called (a credential missing).
        var snapshot = state.Current;
        if (MaySeeUnpublished(user, service) && snapshot.ById.TryGetValue(service.Id, out var entry))
        {
            view = view with { NotCallable = view.NotCallable ?? Routing.Callability.NotCallableReason(entry.Current.Spec, snapshot) };
        }
        return TypedResults.Ok(view);
    }

    private static bool MaySeeUnpublished(ClaimsPrincipal user, ServiceRow service) => Caller.IsApprover(user) || Caller.MayPublishFor(user, service.Publisher);

    public static async Task<IResult> GetVersionAsync(string id, string version, CatalogStore store, PublishingService publishing, ClaimsPrincipal user, CancellationToken ct)
    {
        var service = await store.FindServiceAsync(id, ct);
        if (service is null) return NotFound($"service '{id}'");
        var row = (await store.VersionsAsync(service.Id, ct)).FirstOrDefault(v => v.Version == version);
        if (row is not null && row.State is VersionStates.Draft or VersionStates.PendingApproval && !MaySeeUnpublished(user, service)) row = null;
        return row is null ? NotFound($"version {version} of '{service.Slug}'") : TypedResults.Ok(await publishing.DescribeVersionAsync(service, row, ct));
    }

    public static async Task<IResult> SubmitAsync(string id, string version, PublishingService publishing, ClaimsPrincipal user, CancellationToken ct) =>
        ToResult(await publishing.SubmitAsync(id, version, user, ct));

    public static async Task<IResult> DeprecateAsync(string id, string version, HttpRequest request, PublishingService publishing, ClaimsPrincipal user, CancellationToken ct)
    {
        var (body, problem) = await ReadAsync<DeprecateRequest>(request, ct);
        return problem ?? ToResult(await publishing.DeprecateAsync(id, version, body!, user, ct));
    }

    public static async Task<IResult> RetireAsync(string id, string version, HttpRequest request, PublishingService publishing, ClaimsPrincipal user, CancellationToken ct)
    {
        var body = request.ContentLength is > 0 ? (await ReadAsync<DecisionRequest>(request, ct)).Value : null;
        return ToResult(await publishing.RetireAsync(id, version, body?.Reason, user, ct));
    }

    public static async Task<IResult> PendingApprovalsAsync(CatalogStore store, PublishingService publishing, CancellationToken ct)
    {
        var pending = await store.VersionsInStateAsync(VersionStates.PendingApproval, ct);
        var views = new List<VersionView>();
        foreach (var v in pending)
        {
            var service = await store.FindServiceAsync(v.ServiceId, ct);
            if (service is not null) views.Add(await publishing.DescribeVersionAsync(service, v, ct));
        }
        return TypedResults.Ok(new { data = views, total = views.Count });
    }

    public static async Task<IResult> DecideAsync(string versionId, bool approve, HttpRequest request, PublishingService publishing, ClaimsPrincipal user, CancellationToken ct)
    {
        DecisionRequest? body = null;
        if (request.ContentLength is > 0 || request.Headers.TransferEncoding.Count > 0)
        {
            var (b, problem) = await ReadAsync<DecisionRequest>(request, ct);
            if (problem is not null) return problem;
            body = b;
        }
        return ToResult(await publishing.DecideAsync(versionId, approve, body?.Reason, user, ct));
    }

    /// <summary>Admin import: the body is an OpenRouter or models.dev JSON file.</summary>
    public static async Task<IResult> ImportAsync(HttpRequest request, ImportService importer, CatalogState state, ClaimsPrincipal user, CancellationToken ct)
    {
        ImportSummary summary;
        try
        {
            summary = await importer.ImportAsync(request.Body, Caller.Actor(user), null, ct);
        }
        catch (InvalidDataException ex)
        {
            var errors = new ValidationErrors();
            errors.Add("$", ex.Message);
            return TypedResults.ValidationProblem(errors.ToDictionary(), title: "Invalid catalog file");
        }
        await state.ReloadAsync(ct);
        return TypedResults.Ok(summary);
    }

    public static async Task<IResult> ReviewAsync(string id, HttpRequest request, CatalogStore store, CatalogState state, TimeProvider time, ICatalogAuditSink audit, ClaimsPrincipal user, CancellationToken ct)
    {
        var (body, problem) = await ReadAsync<ReviewRequest>(request, ct);
        if (problem is not null) return problem;
        var errors = new ValidationErrors();
        if (body!.Stars is not (>= 1 and <= 5)) errors.Add("stars", "must be an integer from 1 to 5");
        if (body.Text is { Length: > 4000 }) errors.Add("text", "must be at most 4,000 characters");
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary(), title: "Invalid review");
        var service = await store.FindServiceAsync(id, ct);
        if (service is null) return NotFound($"service '{id}'");
        var actor = Caller.Actor(user);
        await store.UpsertReviewAsync(service.Id, actor, body.Stars!.Value, body.Text, time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture), ct);
        await audit.RecordAsync(new CatalogAuditEvent("catalog.review", service.Id, service.Slug, null, actor, null, time.GetUtcNow()), ct);
        await state.ReloadAsync(ct);
        return TypedResults.Ok(await ReviewsOfAsync(service, store, ct));
    }

    public static async Task<IResult> ReviewsAsync(string id, CatalogStore store, CancellationToken ct)
    {
        var service = await store.FindServiceAsync(id, ct);
        return service is null ? NotFound($"service '{id}'") : TypedResults.Ok(await ReviewsOfAsync(service, store, ct));
    }

    private static async Task<ReviewsView> ReviewsOfAsync(ServiceRow service, CatalogStore store, CancellationToken ct)
    {
        var reviews = await store.ReviewsAsync(service.Id, ct);
        return new ReviewsView(service.Id, reviews.Count == 0 ? 0 : Math.Round(reviews.Average(static r => (double)r.Stars), 2), reviews.Count,
            reviews.Select(static r => new ReviewView(r.UserId, (int)r.Stars, r.Text, r.UpdatedAt)).ToList());
    }

    private static async Task<(T? Value, IResult? Problem)> ReadAsync<T>(HttpRequest request, CancellationToken ct) where T : class
    {
        try
        {
            var value = await JsonSerializer.DeserializeAsync<T>(request.Body, CatalogJson.Options, ct);
            if (value is null) return (null, Invalid("$", "a JSON object is required"));
            return (value, null);
        }
        catch (JsonException ex)
        {
            return (null, Invalid(string.IsNullOrEmpty(ex.Path) ? "$" : ex.Path.TrimStart('$', '.'), "has the wrong type or is malformed: " + (ex.Message.Split(" Path:")[0])));
        }
    }

    private static ValidationProblem Invalid(string path, string message)
    {
        var errors = new ValidationErrors();
        errors.Add(path.Length == 0 ? "$" : path, message);
        return TypedResults.ValidationProblem(errors.ToDictionary(), title: "Invalid request body");
    }

    private static ProblemHttpResult NotFound(string what) => TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"No {what}.");

    private static IResult ToResult(Outcome outcome) => outcome switch
    {
        Outcome.Ok { Status: 201 } ok => TypedResults.Json(ok.Value, CatalogJson.Options, statusCode: 201),
        Outcome.Ok ok => TypedResults.Json(ok.Value, CatalogJson.Options),
        Outcome.Invalid invalid => TypedResults.ValidationProblem(invalid.Errors.ToDictionary(), title: "The listing has problems"),
        Outcome.NotFound nf => NotFound(nf.What),
        Outcome.Forbidden f => TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: f.Why),
        Outcome.Conflict c => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: c.Title, detail: c.Detail),
        Outcome.Unprocessable u => TypedResults.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: u.Title, detail: u.Detail),
        _ => TypedResults.Problem(statusCode: 500),
    };
}

internal sealed record ReviewRequest(int? Stars, string? Text);

internal sealed record ReviewsView(string ServiceId, double Average, int Count, IReadOnlyList<ReviewView> Reviews);

internal sealed record ReviewView(string User, int Stars, string? Text, string UpdatedAt);
