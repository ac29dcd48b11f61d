using LlmMarketplace.Access.Audit;
using LlmMarketplace.Access.Budgets;
using LlmMarketplace.Access.Keys;
using LlmMarketplace.Access.Teams;
using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Access.Plans;

public sealed record CreatePlanRequest
{
    public string? Name { get; init; }

    /// <summary>The model (a gateway config model or a catalog listing's slug) the plan is offered on.</summary>
    public string? Model { get; init; }
    public long? Rpm { get; init; }
    public long? Tpm { get; init; }
    public long? TokenQuota { get; init; }
    public string? QuotaPeriod { get; init; }
    public decimal? PriceUsd { get; init; }
    public bool? RequiresApproval { get; init; }
}

public sealed record PlanDto(string Id, string Name, string Model, long? Rpm, long? Tpm, long? TokenQuota, string QuotaPeriod, decimal PriceUsd, bool RequiresApproval, DateTimeOffset CreatedAt);

public sealed record CreateSubscriptionRequest
{
    public string? App { get; init; }
    public string? Plan { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
}

public sealed record SubscriptionDto(string Id, string AppId, string PlanId, string Model, string Status, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? ExpiresAt);

/// <summary><c>/api/v1/plans</c> and <c>/api/v1/subscriptions</c>: what a model offers and who subscribed.</summary>
internal static class PlansApi
{
    public static async Task<Results<Created<PlanDto>, ValidationProblem>> CreatePlanAsync(
        JsonBody<CreatePlanRequest> body, AccessStore store, AccessDirectory directory, IGatewayModelCatalog models, TimeProvider time, HttpContext context, CancellationToken cancellationToken)
    {
        if (!body.IsValid) return body.Problem();
        var request = body.Value;
        var errors = new ValidationErrors();
        if (string.IsNullOrWhiteSpace(request.Name)) errors.Add("name", "A name is required.");
        if (string.IsNullOrWhiteSpace(request.Model)) errors.Add("model", "The model the plan is offered on is required.");
        else if (!models.TryGetModel(request.Model, out _)) errors.Add("model", $"Unknown model '{request.Model}'.");
        if (request.Rpm is <= 0) errors.Add("rpm", "rpm must be positive.");
        if (request.Tpm is <= 0) errors.Add("tpm", "tpm must be positive.");
        if (request.TokenQuota is <= 0) errors.Add("tokenQuota", "tokenQuota must be positive.");
        var period = request.QuotaPeriod ?? BudgetPeriod.Monthly;
        if (!BudgetPeriod.IsValid(period)) errors.Add("quotaPeriod", $"quotaPeriod must be one of {string.Join(", ", BudgetPeriod.All)}.");
        if (request.PriceUsd is < 0) errors.Add("priceUsd", "priceUsd must be zero or more.");
        if (request.Name is { Length: > 0 } && request.Model is { Length: > 0 } &&
            directory.Current.PlansByModel.TryGetValue(request.Model, out var existing) && existing.Any(p => p.Name == request.Name))
            errors.Add("name", $"The model already offers a plan named '{request.Name}'.");
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());

        var row = new PlanRow
        {
            Id = KeyService.NewId("plan"),
            Name = request.Name!.Trim(),
            Model = request.Model!,
            Rpm = request.Rpm,
            Tpm = request.Tpm,
            TokenQuota = request.TokenQuota,
            QuotaPeriod = period,
            PriceUsd = request.PriceUsd ?? 0,
            RequiresApproval = request.RequiresApproval == true ? 1 : 0,
            CreatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        await using (var connection = await store.OpenAsync(cancellationToken))
        {
            await connection.ExecuteAsync(new CommandDefinition("""
                INSERT INTO access_plans (id, name, model, rpm, tpm, token_quota, quota_period, price_usd, requires_approval, created_at_ms)
                VALUES (@Id, @Name, @Model, @Rpm, @Tpm, @TokenQuota, @QuotaPeriod, @PriceUsd, @RequiresApproval, @CreatedAtMs)
                """, row, cancellationToken: cancellationToken));
        }
        await directory.ReloadAsync(cancellationToken);
        await AccessAudit.RecordAsync(context, "plan.created", "plan", row.Id, after: ToDto(row));
        return TypedResults.Created($"/api/v1/plans/{row.Id}", ToDto(row));
    }

    public static Ok<ListResponse<PlanDto>> ListPlans(string? model, AccessDirectory directory)
    {
        var plans = directory.Current.Plans.Values.Where(p => model is null || p.Model == model)
            .OrderBy(static p => p.Model, StringComparer.Ordinal).ThenBy(static p => p.Name, StringComparer.Ordinal).Select(ToDto).ToList();
        return TypedResults.Ok(new ListResponse<PlanDto>(plans, plans.Count));
    }

    public static async Task<Results<Created<SubscriptionDto>, ValidationProblem, ForbidHttpResult>> SubscribeAsync(
        JsonBody<CreateSubscriptionRequest> body, ClaimsPrincipal user, AccessStore store, AccessDirectory directory, TimeProvider time, HttpContext context, CancellationToken cancellationToken)
    {
        if (!body.IsValid) return body.Problem();
        var request = body.Value;
        var caller = CallerIdentity.From(user);
        var errors = new ValidationErrors();
        var snapshot = directory.Current;
        AppRow? app = null;
        PlanRow? plan = null;
        if (string.IsNullOrWhiteSpace(request.App)) errors.Add("app", "The subscribing app is required.");
        // An app of a team the caller cannot see is as unknown as one that does not exist: authorization before existence.
        else if ((app = snapshot.FindApp(request.App)) is null || !caller.CanSeeTeam(app.TeamId))
        {
            app = null;
            errors.Add("app", $"Unknown app '{request.App}'.");
        }
        if (string.IsNullOrWhiteSpace(request.Plan)) errors.Add("plan", "The plan is required.");
        else if (!snapshot.Plans.TryGetValue(request.Plan, out plan)) errors.Add("plan", $"Unknown plan '{request.Plan}'.");
        if (errors.IsEmpty && !caller.CanManageTeam(app!.TeamId)) return TypedResults.Forbid();
        if (app is not null && plan is not null && snapshot.SubscriptionsByApp.TryGetValue(app.Id, out var subs) &&
            subs.Any(s => s.PlanId == plan.Id && s.Status is SubscriptionStatus.Submitted or SubscriptionStatus.Active or SubscriptionStatus.Suspended))
            errors.Add("plan", "The app already has a subscription to this plan.");
        if (request.ExpiresAt is { } expires && expires <= time.GetUtcNow()) errors.Add("expiresAt", "expiresAt must be in the future.");
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var row = new SubscriptionRow
        {
            Id = KeyService.NewId("sub"),
            AppId = app!.Id,
            PlanId = plan!.Id,
            Status = plan.RequiresApproval == 1 ? SubscriptionStatus.Submitted : SubscriptionStatus.Active,
            CreatedAtMs = now,
            UpdatedAtMs = now,
            ExpiresAtMs = request.ExpiresAt?.ToUnixTimeMilliseconds(),
            ActivatedAtMs = plan.RequiresApproval == 1 ? null : now,
        };
        await using (var connection = await store.OpenAsync(cancellationToken))
        {
            await connection.ExecuteAsync(new CommandDefinition("""
                INSERT INTO access_subscriptions (id, app_id, plan_id, status, created_at_ms, updated_at_ms, expires_at_ms, activated_at_ms)
                VALUES (@Id, @AppId, @PlanId, @Status, @CreatedAtMs, @UpdatedAtMs, @ExpiresAtMs, @ActivatedAtMs)
                """, row, cancellationToken: cancellationToken));
        }
        await directory.ReloadAsync(cancellationToken);
        var created = ToDto(row, directory.Current, time);
        await AccessAudit.RecordAsync(context, "subscription.created", "subscription", row.Id, after: created);
        return TypedResults.Created($"/api/v1/subscriptions/{row.Id}", created);
    }

    public static async Task<Results<Ok<SubscriptionDto>, NotFound, ValidationProblem, ForbidHttpResult>> TransitionAsync(
        string id, string action, ClaimsPrincipal user, AccessStore store, AccessDirectory directory, TimeProvider time, HttpContext context, CancellationToken cancellationToken)
    {
        var caller = CallerIdentity.From(user);
        var snapshot = directory.Current;
        // A subscription of a team the caller cannot see is answered as one that does not exist.
        if (!snapshot.Subscriptions.TryGetValue(id, out var sub)
            || !(caller.IsApprover || caller.CanSeeTeam(snapshot.Apps.GetValueOrDefault(sub.AppId)?.TeamId))) return TypedResults.NotFound();
        if (!SubscriptionStatus.Actions.TryGetValue(action, out var transition))
        {
            var errors = new ValidationErrors();
            errors.Add("action", $"action must be one of {string.Join(", ", SubscriptionStatus.Actions.Keys)}.");
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }
        var teamId = snapshot.Apps.GetValueOrDefault(sub.AppId)?.TeamId;
        var allowed = action switch
        {
            "approve" or "reject" => caller.IsApprover,
            "cancel" => caller.CanManageTeam(teamId),
            _ => caller.IsAdmin,
        };
        if (!allowed) return TypedResults.Forbid();
        if (!transition.From.Contains(EffectiveStatus(sub, time)))
        {
            var errors = new ValidationErrors();
            errors.Add("status", $"A {EffectiveStatus(sub, time)} subscription cannot be {action}d; {action} applies to {string.Join(" or ", transition.From)} subscriptions.");
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }
        var before = ToDto(sub, snapshot, time);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        int changed;
        await using (var connection = await store.OpenAsync(cancellationToken))
        {
            changed = await connection.ExecuteAsync(new CommandDefinition(
                // Statements bill from the first activation to the cancellation (a suspension keeps the subscription billed).
                "UPDATE access_subscriptions SET status = @to, updated_at_ms = @now, "
                + "activated_at_ms = CASE WHEN @activates = 1 AND activated_at_ms IS NULL THEN @now ELSE activated_at_ms END, "
                + "ended_at_ms = CASE WHEN @ends = 1 THEN @now ELSE ended_at_ms END WHERE id = @id AND status = @from",
                new { to = transition.To, now, id, from = sub.Status, activates = transition.To == SubscriptionStatus.Active ? 1 : 0, ends = transition.To == SubscriptionStatus.Cancelled ? 1 : 0 },
                cancellationToken: cancellationToken));
        }
        await directory.ReloadAsync(cancellationToken);
        var after = ToDto(directory.Current.Subscriptions[id], directory.Current, time);
        if (changed > 0) await AccessAudit.RecordAsync(context, "subscription." + action, "subscription", id, before, after);
        return TypedResults.Ok(after);
    }

    public static Ok<ListResponse<SubscriptionDto>> ListSubscriptions(string? app, string? status, ClaimsPrincipal user, AccessDirectory directory, TimeProvider time)
    {
        var caller = CallerIdentity.From(user);
        var snapshot = directory.Current;
        var subs = snapshot.Subscriptions.Values
            .Where(s => caller.CanSeeTeam(snapshot.Apps.GetValueOrDefault(s.AppId)?.TeamId) && (app is null || s.AppId == app) && (status is null || EffectiveStatus(s, time) == status))
            .OrderByDescending(static s => s.CreatedAtMs).Select(s => ToDto(s, snapshot, time)).ToList();
        return TypedResults.Ok(new ListResponse<SubscriptionDto>(subs, subs.Count));
    }

    private static PlanDto ToDto(PlanRow p) => new(p.Id, p.Name, p.Model, p.Rpm, p.Tpm, p.TokenQuota, p.QuotaPeriod, p.PriceUsd, p.RequiresApproval == 1, DateTimeOffset.FromUnixTimeMilliseconds(p.CreatedAtMs));

    /// <summary>The stored status, except that a subscription past its expiry is <c>expired</c>.</summary>
    internal static string EffectiveStatus(SubscriptionRow s, TimeProvider time) =>
        s.ExpiresAtMs is { } e && e <= time.GetUtcNow().ToUnixTimeMilliseconds() && s.Status is SubscriptionStatus.Active or SubscriptionStatus.Submitted or SubscriptionStatus.Suspended
            ? SubscriptionStatus.Expired
            : s.Status;

    private static SubscriptionDto ToDto(SubscriptionRow s, AccessSnapshot snapshot, TimeProvider time) => new(
        s.Id, s.AppId, s.PlanId, snapshot.Plans.GetValueOrDefault(s.PlanId)?.Model ?? "", EffectiveStatus(s, time),
        DateTimeOffset.FromUnixTimeMilliseconds(s.CreatedAtMs), DateTimeOffset.FromUnixTimeMilliseconds(s.UpdatedAtMs),
        s.ExpiresAtMs is { } e ? DateTimeOffset.FromUnixTimeMilliseconds(e) : null);
}
