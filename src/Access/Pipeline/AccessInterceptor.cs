using LlmMarketplace.Access.Budgets;
using LlmMarketplace.Access.Keys;
using LlmMarketplace.Access.Limits;
using LlmMarketplace.Access.Metering;
using LlmMarketplace.Access.Plans;
using LlmMarketplace.Access.Telemetry;
using LlmMarketplace.BuildingBlocks.Distributed;
using LlmMarketplace.Governance.Contracts;
using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Access.Pipeline;

/// <summary>
/// Access on the data plane, in the limits stage: checks the key's model scope and subscriptions, takes from the
/// rate-limit buckets and reserves against budgets before the call; after it, reconciles limits and budgets with the
/// actual usage and writes the usage record durably before the response completes. The caller (key, app, team, user)
/// is resolved from memory earlier, in the caller stage (<see cref="AccessCallerInterceptor"/>).
/// </summary>
internal sealed class AccessInterceptor(
    AccessDirectory directory,
    IRateLimitStore limits,
    BudgetLedger budgets,
    UsageWriter usage,
    ISubscriptionRequirement subscriptions,
    IGatewayModelCatalog models,
    AccessOptions options,
    AccessMetrics metrics,
    AccessStore store,
    IPolicyDecisions policies,
    TimeProvider time) : IGatewayInterceptor
{

    private sealed class CallState
    {
        public KeyEntry? Key;
        public string? TeamId;
        public string? AppId;
        public string? UserId;
        public string? SubscriptionId;
        public long EstimatedTokens;
        public List<(string Key, RateLimit Limit)> Buckets = [];
        public readonly List<(string Deployment, RateLimit Limit)> DeploymentBuckets = [];
        public BudgetReservation? Reservation;
        public bool Admitted;
    }

    public GatewayStage Stage => GatewayStage.Limits;

    /// <summary>The caller stage: resolves the key, app, team and user (see <see cref="AccessCallerInterceptor"/>).</summary>
    internal GatewayRejection? Identify(GatewayCall call)
    {
        var state = Resolve(call, out var rejection);
        call.Features.Set(state);
        return rejection;
    }

    public async ValueTask<GatewayRejection?> BeforeAsync(GatewayCall call, CancellationToken cancellationToken)
    {
        if (call.Features.Get<CallState>() is not { } state)
        {
            if (Identify(call) is { } rejection) return rejection;
            state = call.Features.Get<CallState>()!;
        }
        try
        {
            return await AdmitAsync(call, state);
        }
        catch (SharedStateUnavailableException)
        {
            // Redis:FailureMode closed: without the shared limits no replica may admit the call.
            await ReleaseBucketsAsync(state);
            metrics.Refused("shared_limits_unavailable");
            call.ResponseHeaders["retry-after"] = "1";
            return new GatewayRejection(429,
                "Rate limits and budgets are shared by every gateway replica, and their store (Redis) is unreachable, so the request was not admitted. Please try again shortly.",
                "requests", "rate_limit_exceeded");
        }
    }

    private CallState Resolve(GatewayCall call, out GatewayRejection? rejection)
    {
        rejection = null;
        var caller = call.Caller;
        var snapshot = directory.Current;
        var state = new CallState
        {
            TeamId = caller.TeamId,
            AppId = caller.AppId,
            UserId = caller.UserId,
        };
        if (caller.KeyId is { } keyId && caller.IsApiKey)
        {
            if (!snapshot.KeysById.TryGetValue(keyId, out var key) || !key.IsActive(time.GetUtcNow()))
            {
                metrics.Refused("invalid_api_key");
                rejection = new GatewayRejection(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key");
                return state;
            }
            state.Key = key;
            state.TeamId = key.Row.TeamId;
            state.AppId = key.Row.AppId;
            state.UserId = key.Row.UserId;
            if (call.Project is { } project && project != key.Row.TeamId
                && !(key.Row.TeamId is { } teamId && snapshot.Teams.TryGetValue(teamId, out var team) && team.Name == project))
            {
                metrics.Refused("team_not_allowed");
                rejection = new GatewayRejection(403, $"This API key does not belong to the project (team) `{project}` named in OpenAI-Project.", "permission_error", "team_not_allowed");
            }
        }
        else if (call.Project is { } project)
        {
            // A person in several teams names the team the call is for; without the header, their first team.
            if (caller.InTeam(project))
            {
                state.TeamId = project;
            }
            else if (!caller.IsAdmin)
            {
                metrics.Refused("team_not_allowed");
                rejection = new GatewayRejection(403, $"You are not a member of the project (team) `{project}` named in OpenAI-Project.", "permission_error", "team_not_allowed");
            }
            else
            {
                state.TeamId = project;
            }
        }
        if (caller.TeamId != state.TeamId || caller.AppId != state.AppId || caller.UserId != state.UserId)
        {
            call.Caller = caller with { TeamId = state.TeamId, AppId = state.AppId, UserId = state.UserId };
        }
        return state;
    }

    private async ValueTask<GatewayRejection?> AdmitAsync(GatewayCall call, CallState state)
    {
        var snapshot = directory.Current;
        var key = state.Key;
        if (key?.Models is { } allowed && !allowed.Contains(call.Model))
        {
            metrics.Refused("model_not_allowed");
            return new GatewayRejection(403, $"This API key is not allowed to use the model `{call.Model}`.", "permission_error", "model_not_allowed", "model");
        }

        var privileged = call.Caller.IsAdmin || key?.Row.Direct == 1;
        PlanRow? plan = null;
        if (subscriptions.RequiresSubscription(call.Model))
        {
            var active = FindSubscription(snapshot, state.AppId, call.Model, time, out plan);
            if (active is null && !privileged)
            {
                metrics.Refused("subscription_required");
                return new GatewayRejection(403, $"The model `{call.Model}` requires an active subscription to one of its plans for your app.", "permission_error", "subscription_required", "model");
            }
            state.SubscriptionId = active?.Id;
        }

        // Rate limits: key, app, team, plan.
        var buckets = new List<(string, RateLimit)>(4);
        if (key is not null) AddBucket(buckets, key.Bucket, key.Row.Rpm, key.Row.Tpm);
        if (state.AppId is { } appId && snapshot.Apps.TryGetValue(appId, out var app)) AddBucket(buckets, "app:" + appId, app.Rpm, app.Tpm);
        if (state.TeamId is { } teamId && snapshot.Teams.TryGetValue(teamId, out var team)) AddBucket(buckets, "team:" + teamId, team.Rpm, team.Tpm);
        if (plan is not null && state.SubscriptionId is { } subId) AddBucket(buckets, "subscription:" + subId, plan.Rpm, plan.Tpm);

        var budgetLimits = BudgetLimitsFor(snapshot, state, plan);
        AddPolicyCaps(budgetLimits, call, state);
        var deploymentLimited = options.DeploymentLimits.Count > 0;
        // Tokenizing the prompt costs time: only when a token limit or a budget needs the estimate.
        if (budgetLimits.Count > 0 || deploymentLimited || buckets.Exists(static b => b.Item2.Tpm is not null))
        {
            state.EstimatedTokens = call.EstimatedPromptTokens;
        }

        // The buckets (all or none) and the budgets are independent checks: both are asked at once, so with Redis the
        // call's admission is one round trip. A call one of them refuses gives back what the other took.
        var reserving = budgetLimits.Count > 0 ? ReserveAsync(call, budgetLimits, state.EstimatedTokens) : default;
        RateLimitDecision? shown = null;
        if (buckets.Count > 0)
        {
            BucketsDecision acquired;
            try
            {
                acquired = await limits.TryAcquireAllAsync(buckets, state.EstimatedTokens);
            }
            catch (SharedStateUnavailableException)
            {
                await GiveBackAsync(reserving);
                throw;
            }
            if (!acquired.Allowed)
            {
                await GiveBackAsync(reserving);
                SetRateHeaders(call, acquired.Decision);
                return RateLimited(call, acquired.Decision, buckets[acquired.Refused].Item1);
            }
            state.Buckets = buckets;
            shown = acquired.Decision;
        }

        if (deploymentLimited && models.TryGetModel(call.Model, out var model))
        {
            var admitted = new List<string>();
            RateLimitDecision? refused = null;
            var any = false;
            foreach (var deployment in model.Deployments)
            {
                if (!options.DeploymentLimits.TryGetValue(deployment.Id, out var dl))
                {
                    admitted.Add(deployment.Id);
                    continue;
                }
                any = true;
                var limit = new RateLimit(dl.Rpm, dl.Tpm);
                var decision = await limits.TryAcquireAsync("deployment:" + deployment.Id, limit, state.EstimatedTokens);
                if (decision.Allowed)
                {
                    admitted.Add(deployment.Id);
                    state.DeploymentBuckets.Add((deployment.Id, limit));
                }
                else
                {
                    refused = decision;
                }
            }
            if (any)
            {
                if (admitted.Count == 0)
                {
                    await GiveBackAsync(reserving);
                    await ReleaseBucketsAsync(state);
                    SetRateHeaders(call, refused!.Value);
                    return RateLimited(call, refused.Value, "deployment");
                }
                call.AllowedDeployments = call.AllowedDeployments is { } narrowed ? narrowed.Intersect(admitted).ToList() : admitted;
            }
        }

        // Budgets and quotas: key, app, team, user, and the plan's token quota.
        if (budgetLimits.Count > 0)
        {
            (state.Reservation, var exhausted, var resetsAt) = await reserving;
            if (state.Reservation is null)
            {
                await ReleaseBucketsAsync(state);
                metrics.Refused("insufficient_quota");
                call.ResponseHeaders["x-should-retry"] = "false";
                var what = exhausted!.Scope switch
                {
                    "subscription" => "your plan's token quota",
                    "policy" => $"the {exhausted.Period} spending cap of {exhausted.Because}",
                    _ => $"the {exhausted.Period} budget of this {exhausted.Scope}",
                };
                var until = exhausted.Period == BudgetPeriod.Total ? "" : " until " + resetsAt.ToString("yyyy-MM-ddTHH:mm:ssK", CultureInfo.InvariantCulture);
                return new GatewayRejection(429, $"You exceeded your current quota: {what} is used up{until}.", "insufficient_quota", "insufficient_quota");
            }
        }

        if (shown is { } headers)
        {
            SetRateHeaders(call, headers);
        }
        state.Admitted = true;
        return null;
    }

    public async ValueTask AfterAsync(GatewayCall call, CancellationToken cancellationToken)
    {
        var state = call.Features.Get<CallState>() ?? Resolve(call, out _);
        var actualTokens = call.Usage.TotalTokens;
        // The usage record, the buckets' reconciliation and the budgets' settlement are independent: all are sent at
        // once (with Redis, one round trip for the counters while the record joins the writer's next batch).
        var latency = call.Latency > TimeSpan.Zero ? call.Latency : time.GetUtcNow() - call.StartedAt;
        var written = usage.WriteAsync(new UsageRow
        {
            RecordId = Guid.CreateVersion7(call.StartedAt).ToString("N"),
            RequestId = call.RequestId,
            AtMs = call.StartedAt.ToUnixTimeMilliseconds(),
            Operation = call.Operation,
            KeyId = state.Key?.Id,
            AppId = state.AppId,
            TeamId = state.TeamId,
            UserId = state.UserId,
            SubscriptionId = state.SubscriptionId,
            Model = call.Model,
            Provider = call.Provider,
            Deployment = call.Deployment,
            Listing = call.Listing,
            ListingVersion = call.ListingVersion,
            PromptTokens = call.Usage.PromptTokens,
            CompletionTokens = call.Usage.CompletionTokens,
            CachedTokens = call.Usage.CachedTokens,
            ReasoningTokens = call.Usage.ReasoningTokens,
            CostUsd = call.CostUsd,
            LatencyMs = latency.TotalMilliseconds,
            TtftMs = call.TimeToFirstToken?.TotalMilliseconds,
            Status = call.Status,
            Cache = call.CacheStatus,
            Stream = call.Stream ? 1 : 0,
        });
        if (state.Admitted)
        {
            var delta = actualTokens - state.EstimatedTokens;
            var adjusting = state.Buckets.Count > 0 ? limits.AdjustAllAsync(state.Buckets, delta) : default;
            var settling = budgets.SettleAsync(state.Reservation, null, call.CostUsd, actualTokens);
            foreach (var (deployment, limit) in state.DeploymentBuckets)
            {
                if (deployment == call.Deployment) await limits.AdjustTokensAsync("deployment:" + deployment, limit, delta);
                else await limits.ReleaseAsync("deployment:" + deployment, limit, state.EstimatedTokens);
            }
            await adjusting;
            await settling;
        }
        await written;
    }

    private ValueTask<(BudgetReservation? Reservation, BudgetLimit? Exhausted, DateTimeOffset ResetsAt)> ReserveAsync(GatewayCall call, List<BudgetLimit> budgetLimits, long estimatedTokens)
    {
        var (estimatedUsd, free) = Estimate(call.Model, estimatedTokens);
        return budgets.TryReserveAsync(budgetLimits, estimatedUsd, estimatedTokens, free);
    }

    /// <summary>Gives back a budget reservation made for a call that another check refused.</summary>
    private async ValueTask GiveBackAsync(ValueTask<(BudgetReservation? Reservation, BudgetLimit? Exhausted, DateTimeOffset ResetsAt)> reserving)
    {
        (BudgetReservation? Reservation, BudgetLimit? Exhausted, DateTimeOffset ResetsAt) reserved;
        try
        {
            reserved = await reserving;
        }
        catch (SharedStateUnavailableException)
        {
            return; // nothing was kept: the ledger gave back what it had reserved before it threw
        }
        if (reserved.Reservation is { } reservation) await budgets.SettleAsync(reservation, null, 0, 0);
    }

    private static SubscriptionRow? FindSubscription(AccessSnapshot snapshot, string? appId, string model, TimeProvider time, out PlanRow? plan)
    {
        plan = null;
        if (appId is null || !snapshot.SubscriptionsByApp.TryGetValue(appId, out var subs)) return null;
        foreach (var sub in subs)
        {
            if (PlansApi.EffectiveStatus(sub, time) == SubscriptionStatus.Active && snapshot.Plans.TryGetValue(sub.PlanId, out var p) && p.Model == model)
            {
                plan = p;
                return sub;
            }
        }
        return null;
    }

    private static List<BudgetLimit> BudgetLimitsFor(AccessSnapshot snapshot, CallState state, PlanRow? plan)
    {
        var result = new List<BudgetLimit>();
        void Add(string scope, string? id)
        {
            if (id is null || !snapshot.BudgetsByScope.TryGetValue(AccessSnapshot.ScopeKey(scope, id), out var rows)) return;
            foreach (var b in rows) result.Add(ToLimit(b));
        }
        Add("key", state.Key?.Id);
        Add("app", state.AppId);
        Add("team", state.TeamId);
        Add("user", state.UserId);
        if (plan?.TokenQuota is { } quota && state.SubscriptionId is { } subId)
        {
            result.Add(QuotaLimit(snapshot.Subscriptions[subId], plan, quota));
        }
        return result;
    }

    /// <summary>The spending caps of the policies that apply to the caller: its key's team (or, for people, every team of theirs) and app.</summary>
    private void AddPolicyCaps(List<BudgetLimit> limits, GatewayCall call, CallState state)
    {
        IReadOnlyList<string> teams = state.Key is not null || call.Project is not null
            ? (state.TeamId is { } t ? [t] : [])
            : call.Caller.TeamIds;
        foreach (var cap in policies.BudgetCaps(teams, state.AppId))
        {
            var (limit, column) = CapLimit(cap);
            // Normally seeded when the policy was loaded (PolicyCapSeeder); this covers a call that got here first.
            budgets.SeedInBackground(store, limit, column);
            limits.Add(limit);
        }
    }

    /// <summary>A policy's cap as a budget, and the usage column its spend is counted on (null: every call).</summary>
    internal static (BudgetLimit Limit, string? UsageColumn) CapLimit(BudgetCap cap)
    {
        var (column, scopeId) = cap.Scope switch
        {
            "team" => ("team_id", cap.ScopeId!),
            "app" => ("app_id", cap.ScopeId!),
            _ => ((string?)null, "*"),
        };
        return (new BudgetLimit(cap.Id, "policy", scopeId, cap.MaxUsd, null, cap.Period, 0.8) { Because = cap.Because }, column);
    }

    internal static BudgetLimit QuotaLimit(SubscriptionRow sub, PlanRow plan, long quota) =>
        new("quota:" + sub.Id, "subscription", sub.Id, null, quota, plan.QuotaPeriod, 0.8);

    internal static BudgetLimit ToLimit(BudgetRow b) => new(b.Id, b.Scope, b.ScopeId, b.LimitUsd, b.LimitTokens, b.Period, b.AlertThreshold);

    /// <summary>The estimated prompt at the dearest deployment's input price plus its per-request fee; free when every deployment is free.</summary>
    private (decimal Usd, bool Free) Estimate(string modelName, long promptTokens)
    {
        if (!models.TryGetModel(modelName, out var model) || model.Deployments.Count == 0) return (0m, false);
        var free = true;
        var max = 0m;
        foreach (var d in model.Deployments)
        {
            free &= d.Pricing.IsFree;
            var cost = d.Pricing.Cost(promptTokens, 0, 0);
            if (cost > max) max = cost;
        }
        return (max, free);
    }

    private async ValueTask ReleaseBucketsAsync(CallState state)
    {
        foreach (var (bucket, limit) in state.Buckets) await limits.ReleaseAsync(bucket, limit, state.EstimatedTokens);
        foreach (var (deployment, limit) in state.DeploymentBuckets) await limits.ReleaseAsync("deployment:" + deployment, limit, state.EstimatedTokens);
        state.Buckets.Clear();
        state.DeploymentBuckets.Clear();
    }

    private static void AddBucket(List<(string, RateLimit)> buckets, string key, long? rpm, long? tpm)
    {
        if (rpm is not null || tpm is not null) buckets.Add((key, new RateLimit(rpm, tpm)));
    }

    private GatewayRejection RateLimited(GatewayCall call, RateLimitDecision decision, string bucket)
    {
        metrics.Refused("rate_limit_exceeded");
        var retry = decision.RetryAfter;
        call.ResponseHeaders["retry-after"] = Math.Max(1, (long)Math.Ceiling(retry.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        call.ResponseHeaders["retry-after-ms"] = ((long)Math.Ceiling(retry.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);
        var scope = bucket.Split(':')[0];
        var requests = decision.Exceeded == "requests";
        var limit = requests ? decision.Limit.Rpm : decision.Limit.Tpm;
        var message = string.Create(CultureInfo.InvariantCulture,
            $"Rate limit reached for {(requests ? "requests per minute (RPM)" : "tokens per minute (TPM)")} on this {scope}: Limit {limit}. Please try again in {RateLimitDuration.Format(retry)}.");
        return new GatewayRejection(429, message, requests ? "requests" : "tokens", "rate_limit_exceeded");
    }

    private static void SetRateHeaders(GatewayCall call, RateLimitDecision decision)
    {
        var h = call.ResponseHeaders;
        if (decision.Limit.Rpm is { } rpm)
        {
            h["x-ratelimit-limit-requests"] = rpm.ToString(CultureInfo.InvariantCulture);
            h["x-ratelimit-remaining-requests"] = decision.RemainingRequests.ToString(CultureInfo.InvariantCulture);
            h["x-ratelimit-reset-requests"] = RateLimitDuration.Format(decision.ResetRequests);
        }
        if (decision.Limit.Tpm is { } tpm)
        {
            h["x-ratelimit-limit-tokens"] = tpm.ToString(CultureInfo.InvariantCulture);
            h["x-ratelimit-remaining-tokens"] = decision.RemainingTokens.ToString(CultureInfo.InvariantCulture);
            h["x-ratelimit-reset-tokens"] = RateLimitDuration.Format(decision.ResetTokens);
        }
    }
}

/// <summary>When policies change, reads the spend already recorded under each new spending cap before the change is acknowledged.</summary>
internal sealed class PolicyCapSeeder(BudgetLedger budgets, AccessStore store) : IPolicyChangeListener
{
    public async Task PoliciesChangedAsync(IPolicyDecisions decisions, CancellationToken cancellationToken)
    {
        foreach (var cap in decisions.AllBudgetCaps())
        {
            var (limit, column) = AccessInterceptor.CapLimit(cap);
            await budgets.SeedAsync(store, limit, column, cancellationToken);
        }
    }
}
