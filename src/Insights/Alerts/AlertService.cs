using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Insights.Events;

namespace LlmMarketplace.Insights.Alerts;

/// <summary>Alert types the detectors raise.</summary>
public static class AlertTypes
{
    public const string ErrorRate = "error_rate";
    public const string LatencySpike = "latency_spike";
    public const string CostSpike = "cost_spike";
    public const string ProviderUnavailable = "provider_unavailable";
    public const string Budget = "budget_threshold";
}

/// <summary>Alert states: firing, acknowledged (someone is on it), resolved.</summary>
public static class AlertStates
{
    public const string Firing = "firing";
    public const string Acknowledged = "acknowledged";
    public const string Resolved = "resolved";
}

/// <summary>An alert as the API shows it.</summary>
public sealed record AlertDto(
    string Id,
    string Type,
    string Scope,
    string Group,
    string Severity,
    string State,
    string Summary,
    double Value,
    double Threshold,
    long Occurrences,
    IReadOnlyList<string> Actions,
    DateTimeOffset StartedAt,
    DateTimeOffset LastSeenAt,
    DateTimeOffset? AcknowledgedAt,
    string? AcknowledgedBy,
    DateTimeOffset? ResolvedAt);

/// <summary>What a detector saw: the condition of one scope.</summary>
internal sealed record AlertSignal(string Type, string Scope, string Group, string Severity, string Summary, double Value, double Threshold)
{
    public string Fingerprint => $"{Type}|{Scope}";
}

/// <summary>
/// The alert lifecycle: a signal opens an alert or, while one with the same fingerprint is open, counts on it
/// (deduplication); alerts of one group key (a provider, a model) are listed together. Opening runs the switchable
/// automated responses and hands the alert to webhooks and events out; resolution undoes responses that must be undone.
/// </summary>
internal sealed class AlertService(
    InsightsStore store,
    AlertOptions options,
    IGatewayControl control,
    EventLog events,
    WebhookOutbox outbox,
    InsightsMetrics metrics,
    TimeProvider time,
    ILogger<AlertService> logger)
{
    private readonly SemaphoreSlim _lock = new(1, 1);

    /// <summary>Runs one change of alert state on a connection of its own, one change at a time (each reads the row it then writes).</summary>
    private async Task<T> ChangeAsync<T>(Func<System.Data.Common.DbConnection, Task<T>> change, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await store.OpenAsync(cancellationToken);
            return await change(connection);
        }
        finally
        {
            _lock.Release();
        }
    }

    public Task<AlertDto> FireAsync(AlertSignal signal, CancellationToken cancellationToken) => ChangeAsync<AlertDto>(async connection =>
    {
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        var open = await OpenAsync(connection, signal.Fingerprint, cancellationToken);
        if (open is not null)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE insights_alerts SET occurrences = occurrences + 1, last_seen_ms = @nowMs, value = @Value, summary = @Summary WHERE id = @Id",
                new { nowMs, signal.Value, signal.Summary, open.Id }, cancellationToken: cancellationToken));
            open.Occurrences++;
            open.LastSeenMs = nowMs;
            open.Value = signal.Value;
            open.Summary = signal.Summary;
            return open.ToDto();
        }
        var actions = Respond(signal);
        var row = new AlertRow
        {
            Id = "alert_" + Guid.CreateVersion7().ToString("N"),
            Fingerprint = signal.Fingerprint,
            Type = signal.Type,
            Scope = signal.Scope,
            GroupKey = signal.Group,
            Severity = signal.Severity,
            State = AlertStates.Firing,
            Summary = signal.Summary,
            Value = signal.Value,
            Threshold = signal.Threshold,
            Occurrences = 1,
            Actions = string.Join(',', actions),
            StartedMs = nowMs,
            LastSeenMs = nowMs,
        };
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO insights_alerts (id, fingerprint, type, scope, group_key, severity, state, summary, value, threshold, occurrences, actions, started_ms, last_seen_ms)
            VALUES (@Id, @Fingerprint, @Type, @Scope, @GroupKey, @Severity, @State, @Summary, @Value, @Threshold, @Occurrences, @Actions, @StartedMs, @LastSeenMs)
            """, row, cancellationToken: cancellationToken));
        var dto = row.ToDto();
        metrics.AlertFired(signal.Type);
        Log.AlertFired(logger, signal.Type, signal.Scope, signal.Value, signal.Threshold);
        await PublishAsync("alert.fired", dto, cancellationToken);
        return dto;
    }, cancellationToken);

    /// <summary>Resolves the open alert of a fingerprint (the detector saw the condition clear); null when none was open.</summary>
    public Task<AlertDto?> ResolveAsync(string fingerprint, CancellationToken cancellationToken) => ChangeAsync<AlertDto?>(async connection =>
    {
        var open = await OpenAsync(connection, fingerprint, cancellationToken);
        return open is null ? null : await ResolveRowAsync(connection, open, cancellationToken);
    }, cancellationToken);

    public Task<AlertDto?> ResolveByIdAsync(string id, CancellationToken cancellationToken) => ChangeAsync<AlertDto?>(async connection =>
    {
        var row = await GetRowAsync(connection, id, cancellationToken);
        if (row is null) return null;
        return row.State == AlertStates.Resolved ? row.ToDto() : await ResolveRowAsync(connection, row, cancellationToken);
    }, cancellationToken);

    public Task<AlertDto?> AcknowledgeAsync(string id, string actor, CancellationToken cancellationToken) => ChangeAsync<AlertDto?>(async connection =>
    {
        var row = await GetRowAsync(connection, id, cancellationToken);
        if (row is null || row.State != AlertStates.Firing) return row?.ToDto();
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE insights_alerts SET state = @state, acknowledged_ms = @nowMs, acknowledged_by = @actor WHERE id = @id",
            new { state = AlertStates.Acknowledged, nowMs, actor, id }, cancellationToken: cancellationToken));
        row.State = AlertStates.Acknowledged;
        row.AcknowledgedMs = nowMs;
        row.AcknowledgedBy = actor;
        var dto = row.ToDto();
        await PublishAsync("alert.acknowledged", dto, cancellationToken);
        return dto;
    }, cancellationToken);

    /// <summary>The fingerprints of every open alert (detectors start from them after a restart).</summary>
    public async Task<IReadOnlyList<string>> OpenFingerprintsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenAsync(cancellationToken);
        return [.. await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT fingerprint FROM insights_alerts WHERE state <> 'resolved'", cancellationToken: cancellationToken))];
    }

    public async Task<AlertDto?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenAsync(cancellationToken);
        return (await GetRowAsync(connection, id, cancellationToken))?.ToDto();
    }

    public async Task<IReadOnlyList<AlertDto>> ListAsync(string? state, string? type, string? group, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenAsync(cancellationToken);
        var sql = "SELECT * FROM insights_alerts WHERE 1 = 1";
        if (state == "open") sql += " AND state <> 'resolved'";
        else if (state is not null) sql += " AND state = @state";
        if (type is not null) sql += " AND type = @type";
        if (group is not null) sql += " AND group_key = @group";
        sql += " ORDER BY started_ms DESC, id DESC LIMIT @limit";
        var rows = await connection.QueryAsync<AlertRow>(new CommandDefinition(sql, new { state, type, group, limit }, cancellationToken: cancellationToken));
        return [.. rows.Select(static r => r.ToDto())];
    }

    private async Task<AlertDto> ResolveRowAsync(System.Data.Common.DbConnection connection, AlertRow row, CancellationToken cancellationToken)
    {
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE insights_alerts SET state = 'resolved', resolved_ms = @nowMs WHERE id = @id", new { nowMs, id = row.Id }, cancellationToken: cancellationToken));
        row.State = AlertStates.Resolved;
        row.ResolvedMs = nowMs;
        if (row.Type == AlertTypes.CostSpike && row.Actions.Contains("cache_enabled", StringComparison.Ordinal))
        {
            control.SetCacheOverride(ScopeValue(row.Scope), null);
        }
        Log.AlertResolved(logger, row.Type, row.Scope);
        var dto = row.ToDto();
        await PublishAsync("alert.resolved", dto, cancellationToken);
        return dto;
    }

    /// <summary>The automated responses for a new alert, each switchable in <see cref="AlertOptions"/>.</summary>
    private List<string> Respond(AlertSignal signal)
    {
        var actions = new List<string>();
        // Only where it fails over: opening the circuit of a model's last available deployment would turn errors into outages.
        if (signal.Type == AlertTypes.ErrorRate && options.OpenCircuitOnErrors && signal.Scope.StartsWith("deployment:", StringComparison.Ordinal)
            && control.HasFailover(ScopeValue(signal.Scope)) && control.OpenCircuit(ScopeValue(signal.Scope)))
        {
            actions.Add("circuit_opened");
            Log.ResponseTaken(logger, "circuit_opened", signal.Scope);
        }
        if (signal.Type == AlertTypes.CostSpike && options.EnableCacheOnCostSpike && signal.Scope.StartsWith("model:", StringComparison.Ordinal))
        {
            control.SetCacheOverride(ScopeValue(signal.Scope), true);
            actions.Add("cache_enabled");
            Log.ResponseTaken(logger, "cache_enabled", signal.Scope);
        }
        return actions;
    }

    private async Task PublishAsync(string type, AlertDto alert, CancellationToken cancellationToken)
    {
        var data = JsonSerializer.SerializeToElement(alert, InsightsJson.Options);
        var envelope = await events.AppendAsync(type, data, cancellationToken);
        await outbox.EnqueueAsync(WebhookKinds.Alerts, envelope, cancellationToken);
    }

    private static string ScopeValue(string scope) => scope[(scope.IndexOf(':', StringComparison.Ordinal) + 1)..];

    private static async Task<AlertRow?> OpenAsync(System.Data.Common.DbConnection connection, string fingerprint, CancellationToken cancellationToken) =>
        await connection.QueryFirstOrDefaultAsync<AlertRow>(new CommandDefinition(
            "SELECT * FROM insights_alerts WHERE fingerprint = @fingerprint AND state <> 'resolved' ORDER BY started_ms DESC", new { fingerprint }, cancellationToken: cancellationToken));

    private static async Task<AlertRow?> GetRowAsync(System.Data.Common.DbConnection connection, string id, CancellationToken cancellationToken) =>
        await connection.QuerySingleOrDefaultAsync<AlertRow>(new CommandDefinition("SELECT * FROM insights_alerts WHERE id = @id", new { id }, cancellationToken: cancellationToken));

    private sealed class AlertRow
    {
        public string Id { get; set; } = "";
        public string Fingerprint { get; set; } = "";
        public string Type { get; set; } = "";
        public string Scope { get; set; } = "";
        public string GroupKey { get; set; } = "";
        public string Severity { get; set; } = "";
        public string State { get; set; } = "";
        public string Summary { get; set; } = "";
        public double Value { get; set; }
        public double Threshold { get; set; }
        public long Occurrences { get; set; }
        public string Actions { get; set; } = "";
        public long StartedMs { get; set; }
        public long LastSeenMs { get; set; }
        public long? AcknowledgedMs { get; set; }
        public string? AcknowledgedBy { get; set; }
        public long? ResolvedMs { get; set; }

        public AlertDto ToDto() => new(Id, Type, Scope, GroupKey, Severity, State, Summary, Value, Threshold, Occurrences,
            Actions.Length == 0 ? [] : Actions.Split(','), DateTimeOffset.FromUnixTimeMilliseconds(StartedMs), DateTimeOffset.FromUnixTimeMilliseconds(LastSeenMs),
            AcknowledgedMs is { } a ? DateTimeOffset.FromUnixTimeMilliseconds(a) : null, AcknowledgedBy,
            ResolvedMs is { } r ? DateTimeOffset.FromUnixTimeMilliseconds(r) : null);
    }
}
