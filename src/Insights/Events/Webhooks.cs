using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using LlmMarketplace.BuildingBlocks.Hosting;
using LlmMarketplace.BuildingBlocks.Net;
using LlmMarketplace.BuildingBlocks.Secrets;
using LlmMarketplace.Governance.Contracts;

namespace LlmMarketplace.Insights.Events;

/// <summary>What a webhook subscribes to: <c>alerts</c> (each alert change at once) and/or <c>events</c> (batched events out).</summary>
public static class WebhookKinds
{
    public const string Alerts = "alerts";
    public const string Events = "events";

    public static readonly string[] All = [Alerts, Events];
}

/// <summary>The <c>Insights:Webhooks</c> section.</summary>
public sealed record WebhookOptions
{
    public const string SectionName = "Insights:Webhooks";

    /// <summary>Attempts per delivery before it is marked failed.</summary>
    public int MaxAttempts { get; init; } = 8;

    /// <summary>The delay before the first retry; doubled for each further one.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromMinutes(10);

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often due retries are looked for when nothing new was enqueued.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Allow deliveries to loopback addresses (a receiver on this machine); checked on every connection, after name resolution.</summary>
    public bool AllowLoopback { get; init; }

    /// <summary>Allow deliveries to private (RFC 1918, unique-local) and link-local addresses, e.g. a receiver inside the company network.</summary>
    public bool AllowPrivate { get; init; }
}

public sealed record WebhookDto(string Id, string Url, IReadOnlyList<string> Kinds, bool Enabled, DateTimeOffset CreatedAt, string CreatedBy);

public sealed record DeliveryDto(string Id, string WebhookId, string Kind, string State, int Attempts, int? LastStatus, string? LastError,
    DateTimeOffset CreatedAt, DateTimeOffset NextAttemptAt, DateTimeOffset? DeliveredAt, int Events);

/// <summary>Webhook subscriptions and the outbox: a payload is written once per subscribed webhook, durably, then delivered.</summary>
internal sealed class WebhookOutbox(InsightsStore store, ISecretStore secrets, TimeProvider time)
{
    public static string SecretName(string webhookId) => $"insights.webhooks.{webhookId}";

    /// <summary>Raised after something was enqueued (the dispatcher wakes on it).</summary>
    public WorkSignal Enqueued { get; } = new();

    public async Task<WebhookDto> CreateAsync(string url, IReadOnlyList<string> kinds, string secret, string actor, CancellationToken cancellationToken)
    {
        var row = new WebhookRow
        {
            Id = "whk_" + Guid.CreateVersion7().ToString("N"),
            Url = url,
            Kinds = string.Join(',', kinds),
            Enabled = 1,
            CreatedMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
            CreatedBy = actor,
        };
        row.SecretName = SecretName(row.Id);
        await secrets.PutAsync(row.SecretName, secret, cancellationToken);
        await using var connection = await store.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO insights_webhooks (id, url, kinds, secret_name, enabled, created_ms, created_by) VALUES (@Id, @Url, @Kinds, @SecretName, @Enabled, @CreatedMs, @CreatedBy)",
            row, cancellationToken: cancellationToken));
        return row.ToDto();
    }

    public async Task<IReadOnlyList<WebhookDto>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenAsync(cancellationToken);
        return [.. (await connection.QueryAsync<WebhookRow>(new CommandDefinition("SELECT * FROM insights_webhooks ORDER BY created_ms", cancellationToken: cancellationToken))).Select(static r => r.ToDto())];
    }

    public async Task<WebhookDto?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenAsync(cancellationToken);
        return (await connection.QuerySingleOrDefaultAsync<WebhookRow>(new CommandDefinition("SELECT * FROM insights_webhooks WHERE id = @id", new { id }, cancellationToken: cancellationToken)))?.ToDto();
    }

    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenAsync(cancellationToken);
        var deleted = await connection.ExecuteAsync(new CommandDefinition("DELETE FROM insights_webhooks WHERE id = @id", new { id }, cancellationToken: cancellationToken));
        if (deleted == 0) return false;
        await connection.ExecuteAsync(new CommandDefinition("UPDATE insights_deliveries SET state = 'cancelled' WHERE webhook_id = @id AND state = 'pending'", new { id }, cancellationToken: cancellationToken));
        await secrets.DeleteAsync(SecretName(id), cancellationToken);
        return true;
    }

    /// <summary>The enabled webhooks subscribed to a kind.</summary>
    public async Task<IReadOnlyList<string>> SubscribersAsync(string kind, CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<WebhookRow>(new CommandDefinition("SELECT * FROM insights_webhooks WHERE enabled = 1", cancellationToken: cancellationToken));
        return [.. rows.Where(r => r.Kinds.Split(',').Contains(kind)).Select(static r => r.Id)];
    }

    /// <summary>Enqueues one event for every webhook subscribed to <paramref name="kind"/>.</summary>
    public async Task EnqueueAsync(string kind, EventEnvelope envelope, CancellationToken cancellationToken)
    {
        var subscribers = await SubscribersAsync(kind, cancellationToken);
        if (subscribers.Count == 0) return;
        await using var connection = await store.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var webhookId in subscribers)
        {
            await InsertAsync(connection, transaction, webhookId, kind, [envelope], cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        Enqueued.Raise();
    }

    /// <summary>Enqueues a batch for one webhook inside the caller's transaction (events out advance their cursor with it).</summary>
    public async Task InsertAsync(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, string webhookId, string kind,
        IReadOnlyList<EventEnvelope> batch, CancellationToken cancellationToken)
    {
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO insights_deliveries (id, webhook_id, kind, payload, state, attempts, next_attempt_ms, created_ms)
            VALUES (@id, @webhookId, @kind, @payload, 'pending', 0, @nowMs, @nowMs)
            """,
            new { id = "dlv_" + Guid.CreateVersion7().ToString("N"), webhookId, kind, payload = JsonSerializer.Serialize(new EventBatch(batch), InsightsJson.Options), nowMs },
            transaction, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<DeliveryDto>> DeliveriesAsync(string webhookId, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<DeliveryRow>(new CommandDefinition(
            "SELECT * FROM insights_deliveries WHERE webhook_id = @webhookId ORDER BY created_ms DESC, id DESC LIMIT @limit", new { webhookId, limit }, cancellationToken: cancellationToken));
        return [.. rows.Select(static r => r.ToDto())];
    }

    internal sealed class WebhookRow
    {
        public string Id { get; set; } = "";
        public string Url { get; set; } = "";
        public string Kinds { get; set; } = "";
        public string SecretName { get; set; } = "";
        public long Enabled { get; set; }
        public long CreatedMs { get; set; }
        public string CreatedBy { get; set; } = "";

        public WebhookDto ToDto() => new(Id, Url, Kinds.Split(','), Enabled == 1, DateTimeOffset.FromUnixTimeMilliseconds(CreatedMs), CreatedBy);
    }

    internal sealed class DeliveryRow
    {
        public string Id { get; set; } = "";
        public string WebhookId { get; set; } = "";
        public string Kind { get; set; } = "";
        public string Payload { get; set; } = "";
        public string State { get; set; } = "";
        public long Attempts { get; set; }
        public long NextAttemptMs { get; set; }
        public long? LastStatus { get; set; }
        public string? LastError { get; set; }
        public long CreatedMs { get; set; }
        public long? DeliveredMs { get; set; }

        public DeliveryDto ToDto() => new(Id, WebhookId, Kind, State, (int)Attempts, (int?)LastStatus, LastError, DateTimeOffset.FromUnixTimeMilliseconds(CreatedMs),
            DateTimeOffset.FromUnixTimeMilliseconds(NextAttemptMs), DeliveredMs is { } d ? DateTimeOffset.FromUnixTimeMilliseconds(d) : null,
            JsonDocument.Parse(Payload).RootElement.GetProperty("events").GetArrayLength());
    }
}

/// <summary>
/// Delivers the outbox: POSTs each payload with <c>x-llmm-signature: t=UNIX,v1=HEX</c>, the HMAC-SHA256 under the
/// webhook's secret of <c>UNIX.BODY</c>; a 2xx answer delivers it, anything else retries with exponential backoff up to
/// <see cref="WebhookOptions.MaxAttempts"/>. Each attempt claims its row by compare-and-set, so replicas never send
/// the same attempt twice; a crash after sending and before recording sends it again (at least once; receivers
/// deduplicate on the events' ids).
/// </summary>
internal sealed class WebhookDispatcher(
    InsightsStore store,
    WebhookOutbox outbox,
    ISecretStore secrets,
    WebhookOptions options,
    TimeProvider time,
    ILogger<WebhookDispatcher> logger) : SignalledWorker(outbox.Enqueued, time, logger)
{
    private readonly HttpClient _http = new(OutboundHttp.CreateHandler(new OutboundAddressPolicy(options.AllowLoopback, options.AllowPrivate), TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(1)))
    { Timeout = options.Timeout };

    public static string Sign(string secret, long unixSeconds, string body)
    {
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(unixSeconds.ToString(CultureInfo.InvariantCulture) + "." + body));
        return $"t={unixSeconds.ToString(CultureInfo.InvariantCulture)},v1={Convert.ToHexStringLower(mac)}";
    }

    protected override TimeSpan Interval => options.PollInterval;

    protected override async Task RunAsync(CancellationToken cancellationToken)
    {
        while (await RunOnceAsync(cancellationToken) > 0) { }
    }

    protected override void OnFailed(Exception exception) => Log.DeliveryLoopFailed(Logger, exception);

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }

    /// <summary>Attempts every due delivery once; returns how many it attempted.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var nowMs = Time.GetUtcNow().ToUnixTimeMilliseconds();
        List<WebhookOutbox.DeliveryRow> due;
        await using (var connection = await store.OpenAsync(cancellationToken))
        {
            due = (await connection.QueryAsync<WebhookOutbox.DeliveryRow>(new CommandDefinition(
                "SELECT * FROM insights_deliveries WHERE state = 'pending' AND next_attempt_ms <= @nowMs ORDER BY next_attempt_ms, id LIMIT 50",
                new { nowMs }, cancellationToken: cancellationToken))).AsList();
        }
        var attempted = 0;
        foreach (var delivery in due)
        {
            if (!await ClaimAsync(delivery, nowMs, cancellationToken)) continue;
            attempted++;
            await AttemptAsync(delivery, cancellationToken);
        }
        return attempted;
    }

    private async Task<bool> ClaimAsync(WebhookOutbox.DeliveryRow delivery, long nowMs, CancellationToken cancellationToken)
    {
        // A claimed attempt is due again only after the timeout, should this replica die while sending it.
        var leaseMs = nowMs + (long)(options.Timeout.TotalMilliseconds * 2);
        await using var connection = await store.OpenAsync(cancellationToken);
        var claimed = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE insights_deliveries SET next_attempt_ms = @leaseMs WHERE id = @Id AND state = 'pending' AND next_attempt_ms = @NextAttemptMs",
            new { leaseMs, delivery.Id, delivery.NextAttemptMs }, cancellationToken: cancellationToken));
        return claimed == 1;
    }

    private async Task AttemptAsync(WebhookOutbox.DeliveryRow delivery, CancellationToken cancellationToken)
    {
        int? status = null;
        string? error = null;
        var webhook = await outbox.GetAsync(delivery.WebhookId, cancellationToken);
        var secret = webhook is null ? null : await secrets.GetAsync(WebhookOutbox.SecretName(delivery.WebhookId), cancellationToken);
        if (webhook is null || secret is null)
        {
            error = "The webhook or its secret no longer exists.";
        }
        else
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, webhook.Url);
                var unix = Time.GetUtcNow().ToUnixTimeSeconds();
                request.Content = new StringContent(delivery.Payload, Encoding.UTF8);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                request.Headers.TryAddWithoutValidation("x-llmm-signature", Sign(secret, unix, delivery.Payload));
                request.Headers.TryAddWithoutValidation("x-llmm-delivery", delivery.Id);
                request.Headers.TryAddWithoutValidation("x-llmm-kind", delivery.Kind);
                request.Headers.TryAddWithoutValidation("x-llmm-attempt", (delivery.Attempts + 1).ToString(CultureInfo.InvariantCulture));
                using var response = await _http.SendAsync(request, cancellationToken);
                status = (int)response.StatusCode;
                if (!response.IsSuccessStatusCode) error = $"The receiver answered {status}.";
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                error = ex is TaskCanceledException ? "The receiver did not answer in time." : $"The request failed: {ex.Message}";
            }
        }
        var attempts = delivery.Attempts + 1;
        var nowMs = Time.GetUtcNow().ToUnixTimeMilliseconds();
        string state;
        long next = nowMs;
        if (error is null)
        {
            state = "delivered";
        }
        else if (attempts >= options.MaxAttempts || webhook is null)
        {
            state = "failed";
            Log.DeliveryFailed(Logger, delivery.Id, delivery.WebhookId, (int)attempts);
        }
        else
        {
            state = "pending";
            var delay = Math.Min(options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, attempts - 1), options.RetryMaxDelay.TotalMilliseconds);
            next = nowMs + (long)delay;
            Log.DeliveryRetry(Logger, delivery.Id, (int)attempts, status ?? 0);
        }
        await using var connection = await store.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE insights_deliveries SET state = @state, attempts = @attempts, next_attempt_ms = @next, last_status = @status, last_error = @error,
                delivered_ms = @delivered WHERE id = @Id
            """,
            new { state, attempts, next, status, error, delivered = state == "delivered" ? nowMs : (long?)null, delivery.Id }, cancellationToken: cancellationToken));
    }
}
