using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Catalog.Storage;

namespace LlmMarketplace.Catalog.Publishing;

/// <summary>The outcome of a publishing operation, mapped to HTTP by the API.</summary>
internal abstract record Outcome
{
    public sealed record Ok(object Value, int Status = 200) : Outcome;
    public sealed record Invalid(ValidationErrors Errors) : Outcome;
    public sealed record NotFound(string What) : Outcome;
    public sealed record Forbidden(string Why) : Outcome;
    public sealed record Conflict(string Title, string Detail) : Outcome;
    public sealed record Unprocessable(string Title, string Detail) : Outcome;
}

/// <summary>Publishing, versions, lifecycle transitions, checks and approvals. Every write is one transaction.</summary>
internal sealed class PublishingService(
    Database database,
    CatalogStore store,
    CatalogState state,
    CatalogOptions options,
    ServiceChecker checker,
    ICatalogPublishPolicy policy,
    ICatalogAuditSink audit,
    CatalogMetrics metrics,
    TimeProvider time,
    PublisherNames names,
    ILogger<PublishingService> logger)
{
    private string Now => time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    public async Task<Outcome> CreateServiceAsync(ListingSpec spec, ClaimsPrincipal user, CancellationToken ct)
    {
        var errors = new ValidationErrors();
        ListingValidator.Validate(spec, options, errors);
        await policy.EvaluateAsync(spec, user, errors, ct);
        if (!errors.IsEmpty) return new Outcome.Invalid(errors);
        if (!Caller.MayPublishFor(user, spec.Publisher)) return new Outcome.Forbidden($"You may publish only for your own teams, not '{spec.Publisher}'.");
        var now = Now;
        var actor = Caller.Actor(user);
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        if (await CatalogStore.FindServiceAsync(c, tx, spec.Slug!, ct) is not null)
        {
            return new Outcome.Conflict("Slug taken", $"A service with slug '{spec.Slug}' exists; publish a new version under it with POST /api/v1/services/{{id}}/versions.");
        }
        var service = new ServiceRow { Id = Guid.NewGuid().ToString("N"), Slug = spec.Slug!, Name = spec.Name!, Publisher = spec.Publisher!, Source = Import.ImportService.PublishedThroughApi, CreatedAt = now, UpdatedAt = now };
        await CatalogStore.InsertServiceAsync(c, tx, service, ct);
        var version = NewDraft(service.Id, spec with { Created = spec.Created ?? time.GetUtcNow().ToUnixTimeSeconds() }, actor, now);
        await CatalogStore.InsertVersionAsync(c, tx, version, ct);
        await CatalogStore.InsertTransitionAsync(c, tx, version.Id, null, VersionStates.Draft, actor, "created", now, ct);
        await tx.CommitAsync(ct);
        await audit.RecordAsync(new CatalogAuditEvent("catalog.service.created", service.Id, service.Slug, version.Version, actor, null, time.GetUtcNow()), ct);
        return new Outcome.Ok(await DescribeAsync(service, ct), 201);
    }

    public async Task<Outcome> AddVersionAsync(string idOrSlug, ListingSpec spec, ClaimsPrincipal user, CancellationToken ct)
    {
        var service = await store.FindServiceAsync(idOrSlug, ct);
        if (service is null) return new Outcome.NotFound($"service '{idOrSlug}'");
        spec = spec with { Slug = spec.Slug ?? service.Slug, Publisher = spec.Publisher ?? service.Publisher };
        var errors = new ValidationErrors();
        if (spec.Slug != service.Slug) errors.Add("slug", $"must be '{service.Slug}' (the slug of a service does not change) or omitted");
        if (spec.Publisher != service.Publisher) errors.Add("publisher", $"must be '{service.Publisher}' or omitted");
        ListingValidator.Validate(spec, options, errors);
        await policy.EvaluateAsync(spec, user, errors, ct);
        if (!errors.IsEmpty) return new Outcome.Invalid(errors);
        if (!Caller.MayPublishFor(user, service.Publisher)) return new Outcome.Forbidden($"Only team '{service.Publisher}' or an admin may add versions.");
        var now = Now;
        var actor = Caller.Actor(user);
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        if (await CatalogStore.FindVersionAsync(c, tx, service.Id, spec.Version!, ct) is not null)
        {
            return new Outcome.Conflict("Duplicate version", $"Version {spec.Version} of '{service.Slug}' exists; versions are immutable, publish a higher version.");
        }
        var version = NewDraft(service.Id, spec with { Created = spec.Created ?? time.GetUtcNow().ToUnixTimeSeconds() }, actor, now);
        await CatalogStore.InsertVersionAsync(c, tx, version, ct);
        await CatalogStore.InsertTransitionAsync(c, tx, version.Id, null, VersionStates.Draft, actor, "created", now, ct);
        await tx.CommitAsync(ct);
        await audit.RecordAsync(new CatalogAuditEvent("catalog.version.created", service.Id, service.Slug, version.Version, actor, null, time.GetUtcNow()), ct);
        return new Outcome.Ok(await DescribeVersionAsync(service, version, ct), 201);
    }

    /// <summary>Runs the checks and moves draft → pending approval; trusted publishers whose checks pass go straight to published.</summary>
    public async Task<Outcome> SubmitAsync(string idOrSlug, string version, ClaimsPrincipal user, CancellationToken ct)
    {
        var (service, row, problem) = await FindAsync(idOrSlug, version, ct);
        if (problem is not null) return problem;
        if (!Caller.MayPublishFor(user, service!.Publisher)) return new Outcome.Forbidden($"Only team '{service.Publisher}' or an admin may submit.");
        if (!VersionStates.CanMove(row!.State, VersionStates.PendingApproval)) return Illegal(row, VersionStates.PendingApproval);
        var spec = CatalogJson.Deserialize<ListingSpec>(row.Spec);
        var checks = await checker.RunAsync(spec, ct);
        Log.Checked(logger, service.Slug, row.Version, checks.Passed ? "passed" : "failed");
        var required = spec.Compliance?.MaxDataClassification is "confidential" or "restricted" ? options.ConfidentialApprovalLevels : options.ApprovalLevels;
        var actor = Caller.Actor(user);
        var now = Now;
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        await c.ExecuteAsync(tx, "UPDATE catalog_versions SET approvals_required = @required WHERE id = @id", new { required, id = row.Id }, ct);
        if (!await CatalogStore.TransitionAsync(c, tx, row.Id, row.State, VersionStates.PendingApproval, actor, "submitted", now, CatalogJson.Serialize(checks), null, null, ct))
        {
            return new Outcome.Conflict("Concurrent change", "The version changed while it was being submitted; read it again.");
        }
        var trusted = options.TrustedPublishers.Contains(service.Publisher, StringComparer.Ordinal);
        if (trusted && checks.Passed)
        {
            await CatalogStore.InsertApprovalAsync(c, tx, row.Id, "auto-approval", "approve", "trusted publisher", now, ct);
            await CatalogStore.TransitionAsync(c, tx, row.Id, VersionStates.PendingApproval, VersionStates.Published, "auto-approval", "trusted publisher, checks passed", now, null, null, null, ct);
        }
        await tx.CommitAsync(ct);
        Log.Transition(logger, service.Slug, row.Version, row.State, trusted && checks.Passed ? VersionStates.Published : VersionStates.PendingApproval);
        metrics.Transition(trusted && checks.Passed ? VersionStates.Published : VersionStates.PendingApproval);
        await audit.RecordAsync(new CatalogAuditEvent("catalog.version.submitted", service.Id, service.Slug, row.Version, actor, checks.Passed ? "checks passed" : "checks failed", time.GetUtcNow()), ct);
        if (trusted && checks.Passed)
        {
            await audit.RecordAsync(new CatalogAuditEvent("catalog.version.published", service.Id, service.Slug, row.Version, "auto-approval", "trusted publisher, checks passed", time.GetUtcNow()), ct);
        }
        await state.ReloadAsync(ct);
        return new Outcome.Ok(await DescribeVersionAsync(service, (await store.FindVersionAsync(row.Id, ct))!, ct));
    }

    public async Task<Outcome> DecideAsync(string versionId, bool approve, string? reason, ClaimsPrincipal user, CancellationToken ct)
    {
        var row = await store.FindVersionAsync(versionId, ct);
        if (row is null) return new Outcome.NotFound($"version '{versionId}'");
        var service = (await store.FindServiceAsync(row.ServiceId, ct))!;
        if (!approve && string.IsNullOrWhiteSpace(reason))
        {
            var errors = new ValidationErrors();
            errors.Add("reason", "a rejection needs a reason the publisher can act on");
            return new Outcome.Invalid(errors);
        }
        if (row.State != VersionStates.PendingApproval) return Illegal(row, approve ? VersionStates.Published : VersionStates.Draft);
        var actor = Caller.Actor(user);
        var now = Now;
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var previous = await CatalogStore.ApprovalsAsync(c, tx, row.Id, ct);
        var since = previous.Where(a => string.CompareOrdinal(a.At, row.UpdatedAt) >= 0).ToList();
        if (approve && since.Any(a => a.Approver == actor && a.Decision == "approve"))
        {
            return new Outcome.Conflict("Already approved", "You already approved this version; another approver must approve it.");
        }
        await CatalogStore.InsertApprovalAsync(c, tx, row.Id, actor, approve ? "approve" : "reject", reason, now, ct);
        var approvals = since.Count(static a => a.Decision == "approve") + (approve ? 1 : 0);
        string to;
        if (!approve) to = VersionStates.Draft;
        else if (approvals >= row.ApprovalsRequired) to = VersionStates.Published;
        else to = VersionStates.PendingApproval;
        if (to != VersionStates.PendingApproval
            && !await CatalogStore.TransitionAsync(c, tx, row.Id, VersionStates.PendingApproval, to, actor, reason ?? (approve ? "approved" : "rejected"), now, null, null, null, ct))
        {
            return new Outcome.Conflict("Concurrent change", "The version changed while it was being decided; read it again.");
        }
        await tx.CommitAsync(ct);
        await audit.RecordAsync(new CatalogAuditEvent(approve ? "catalog.version.approved" : "catalog.version.rejected", service.Id, service.Slug, row.Version, actor, reason, time.GetUtcNow()), ct);
        if (to == VersionStates.Published)
        {
            // The fact "this version went live", once, whatever the path (the last required approval here).
            await audit.RecordAsync(new CatalogAuditEvent("catalog.version.published", service.Id, service.Slug, row.Version, actor, $"{approvals} of {row.ApprovalsRequired} approvals", time.GetUtcNow()), ct);
        }
        if (to != VersionStates.PendingApproval)
        {
            Log.Transition(logger, service.Slug, row.Version, VersionStates.PendingApproval, to);
            metrics.Transition(to);
            await state.ReloadAsync(ct);
        }
        return new Outcome.Ok(await DescribeVersionAsync(service, (await store.FindVersionAsync(row.Id, ct))!, ct));
    }

    public async Task<Outcome> DeprecateAsync(string idOrSlug, string version, DeprecateRequest request, ClaimsPrincipal user, CancellationToken ct)
    {
        var (service, row, problem) = await FindAsync(idOrSlug, version, ct);
        if (problem is not null) return problem;
        if (!Caller.MayPublishFor(user, service!.Publisher)) return new Outcome.Forbidden($"Only team '{service.Publisher}' or an admin may deprecate.");
        var errors = new ValidationErrors();
        if (request.Sunset is not { } sunset) errors.Add("sunset", "is required: the date after which the version is retired");
        else if (sunset <= time.GetUtcNow()) errors.Add("sunset", "must be in the future");
        if (request.Replacement is { } replacement && !state.Current.TryResolveModel(replacement, out _, out _))
        {
            errors.Add("replacement", $"'{replacement}' is not a routable listing (slug or slug@version)");
        }
        if (!errors.IsEmpty) return new Outcome.Invalid(errors);
        if (!VersionStates.CanMove(row!.State, VersionStates.Deprecated)) return Illegal(row, VersionStates.Deprecated);
        return await MoveAsync(service, row, VersionStates.Deprecated, user, request.Reason ?? "deprecated",
            request.Sunset!.Value.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture), request.Replacement, ct);
    }

    public async Task<Outcome> RetireAsync(string idOrSlug, string version, string? reason, ClaimsPrincipal user, CancellationToken ct)
    {
        var (service, row, problem) = await FindAsync(idOrSlug, version, ct);
        if (problem is not null) return problem;
        if (!Caller.MayPublishFor(user, service!.Publisher)) return new Outcome.Forbidden($"Only team '{service.Publisher}' or an admin may retire.");
        if (!VersionStates.CanMove(row!.State, VersionStates.Retired)) return Illegal(row, VersionStates.Retired);
        return await MoveAsync(service, row, VersionStates.Retired, user, reason ?? "retired", null, null, ct);
    }

    private async Task<Outcome> MoveAsync(ServiceRow service, VersionRow row, string to, ClaimsPrincipal user, string reason, string? sunset, string? replacement, CancellationToken ct)
    {
        var actor = Caller.Actor(user);
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        if (!await CatalogStore.TransitionAsync(c, tx, row.Id, row.State, to, actor, reason, Now, null, sunset, replacement, ct))
        {
            return new Outcome.Conflict("Concurrent change", "The version changed meanwhile; read it again.");
        }
        await tx.CommitAsync(ct);
        Log.Transition(logger, service.Slug, row.Version, row.State, to);
        metrics.Transition(to);
        await audit.RecordAsync(new CatalogAuditEvent("catalog.version." + to, service.Id, service.Slug, row.Version, actor, reason, time.GetUtcNow()), ct);
        await state.ReloadAsync(ct);
        return new Outcome.Ok(await DescribeVersionAsync(service, (await store.FindVersionAsync(row.Id, ct))!, ct));
    }

    private async Task<(ServiceRow?, VersionRow?, Outcome?)> FindAsync(string idOrSlug, string version, CancellationToken ct)
    {
        var service = await store.FindServiceAsync(idOrSlug, ct);
        if (service is null) return (null, null, new Outcome.NotFound($"service '{idOrSlug}'"));
        var row = (await store.VersionsAsync(service.Id, ct)).FirstOrDefault(v => v.Version == version);
        return row is null ? (service, null, new Outcome.NotFound($"version {version} of '{service.Slug}'")) : (service, row, null);
    }

    private static Outcome.Unprocessable Illegal(VersionRow row, string to) =>
        new("Illegal lifecycle transition", $"Version {row.Version} is {row.State}; it cannot become {to}. The lifecycle is draft → pending_approval → published → deprecated → retired (rejection returns to draft).");

    private static VersionRow NewDraft(string serviceId, ListingSpec spec, string actor, string now) => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        ServiceId = serviceId,
        Version = spec.Version!,
        State = VersionStates.Draft,
        Spec = CatalogJson.Serialize(spec),
        ApprovalsRequired = 1,
        CreatedBy = actor,
        CreatedAt = now,
        UpdatedAt = now,
    };

    public async Task<ServiceView> DescribeAsync(ServiceRow service, CancellationToken ct)
    {
        var versions = await store.VersionsAsync(service.Id, ct);
        var entry = state.Current.ById.GetValueOrDefault(service.Id);
        return new ServiceView(service.Id, service.Slug, service.Name, service.Publisher, service.Source, service.CreatedAt, service.UpdatedAt,
            entry?.Current.Row.Version, entry?.Rating ?? 0, entry?.RatingCount ?? 0,
            versions.OrderByDescending(static v => SemVer.TryParse(v.Version, out var s) ? s : new SemVer(0, 0, 0, null))
                .Select(static v => new VersionSummary(v.Id, v.Version, v.State, v.SunsetAt, v.Replacement, v.UpdatedAt)).ToList(),
            entry?.Current.Spec.Sla)
        {
            PublisherName = names.Of(service.Publisher),
            NotCallable = entry is null ? null : Routing.CallableKinds.NotCallable(entry.Current.Spec.Kind),
        };
    }

    public async Task<VersionView> DescribeVersionAsync(ServiceRow service, VersionRow v, CancellationToken ct)
    {
        var history = await store.HistoryAsync(v.Id, ct);
        var approvals = await store.ApprovalsAsync(v.Id, ct);
        return new VersionView(v.Id, service.Id, service.Slug, v.Version, v.State, (int)v.ApprovalsRequired,
            v.Checks is null ? null : CatalogJson.Deserialize<VersionChecks>(v.Checks), v.SunsetAt, v.Replacement,
            Redact(CatalogJson.Deserialize<ListingSpec>(v.Spec)),
            history.Select(static h => new TransitionView(h.FromState, h.ToState, h.Actor, h.Reason, h.At)).ToList(),
            approvals.Select(static a => new ApprovalView(a.Approver, a.Decision, a.Reason, a.At)).ToList(),
            v.CreatedBy, v.CreatedAt, v.UpdatedAt);
    }

    /// <summary>Deployment API keys are references, but even the name of a variable is not for everyone; show only that one is set.</summary>
    public static ListingSpec Redact(ListingSpec spec) => spec with
    {
        Deployments = spec.Deployments?.Select(static d => d with { ApiKey = d.ApiKey is null ? null : "(reference set)" }).ToList(),
    };
}

internal sealed record DeprecateRequest(DateTimeOffset? Sunset, string? Replacement, string? Reason);

internal sealed record DecisionRequest(string? Reason);

/// <summary>
/// A service with its versions; <see cref="Sla"/> is what its current version declares and <see cref="MeasuredSla"/> what
/// the current version's calls measured (null when nothing measures listings or there is no current version).
/// </summary>
internal sealed record ServiceView(string Id, string Slug, string Name, string Publisher, string Source, string CreatedAt, string UpdatedAt,
    string? CurrentVersion, double Rating, long RatingCount, IReadOnlyList<VersionSummary> Versions, SlaSpec? Sla = null,
    ServiceLevels.MeasuredSlaView? MeasuredSla = null)
{
    /// <summary>The publisher's name: the team's name for a team id, else <see cref="Publisher"/>.</summary>
    public string PublisherName { get; init; } = Publisher;

    /// <summary>Why the gateway cannot call this service: its kind is not served (everyone sees it), or the current version's credential is missing (<c>credential OPENROUTER_API_KEY missing</c>, administrators and the publisher only); null when it can.</summary>
    public string? NotCallable { get; init; }
}

internal sealed record VersionSummary(string Id, string Version, string State, string? Sunset, string? Replacement, string UpdatedAt);

internal sealed record VersionView(string Id, string ServiceId, string Slug, string Version, string State, int ApprovalsRequired, VersionChecks? Checks,
    string? Sunset, string? Replacement, ListingSpec Listing, IReadOnlyList<TransitionView> History, IReadOnlyList<ApprovalView> Approvals,
    string CreatedBy, string CreatedAt, string UpdatedAt);

internal sealed record TransitionView(string? From, string To, string Actor, string? Reason, string At);

internal sealed record ApprovalView(string Approver, string Decision, string? Reason, string At);

internal static class DbExtensions
{
    public static Task<int> ExecuteAsync(this System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx, string sql, object param, CancellationToken ct) =>
        Dapper.SqlMapper.ExecuteAsync(c, new Dapper.CommandDefinition(sql, param, tx, cancellationToken: ct));
}
