using System.Security.Claims;
using System.Text.Json.Nodes;
using System.Net;
using LlmMarketplace.Governance.Contracts;
using LlmMarketplace.BuildingBlocks.Net;
using LlmMarketplace.Insights.Events;
using LlmMarketplace.BuildingBlocks.Security;

namespace LlmMarketplace.Insights.Alerts;

public sealed record AlertList(IReadOnlyList<AlertDto> Data);

public sealed record CreateWebhookRequest
{
    public string? Url { get; init; }
    public IReadOnlyList<string>? Kinds { get; init; }
    /// <summary>The signing secret; generated (and returned once) when absent.</summary>
    public string? Secret { get; init; }
}

/// <summary>A created webhook with its signing secret, shown this once.</summary>
public sealed record CreatedWebhook(string Id, string Url, IReadOnlyList<string> Kinds, bool Enabled, DateTimeOffset CreatedAt, string Secret);

public sealed record WebhookList(IReadOnlyList<WebhookDto> Data);

public sealed record DeliveryList(IReadOnlyList<DeliveryDto> Data);

/// <summary><c>/api/v1/alerts</c>: alerts and their lifecycle, and the webhooks alerts and events are delivered to.</summary>
internal static class AlertsApi
{
    private static readonly string[] States = [AlertStates.Firing, AlertStates.Acknowledged, AlertStates.Resolved, "open"];

    public static async Task<IResult> ListAsync(string? state, string? type, string? group, int? limit, AlertService alerts, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        if (state is not null && !States.Contains(state)) errors.Add("state", $"state must be one of {string.Join(", ", States)}.");
        if (limit is < 1 or > 1000) errors.Add("limit", "limit must be between 1 and 1000.");
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());
        return TypedResults.Ok(new AlertList(await alerts.ListAsync(state, Blank(type), Blank(group), limit ?? 100, cancellationToken)));
    }

    public static async Task<IResult> GetAsync(string id, AlertService alerts, CancellationToken cancellationToken) =>
        await alerts.GetAsync(id, cancellationToken) is { } alert ? TypedResults.Ok(alert) : TypedResults.NotFound();

    public static async Task<IResult> AcknowledgeAsync(string id, HttpContext context, ClaimsPrincipal user, AlertService alerts, IAuditLog audit, CancellationToken cancellationToken)
    {
        var before = await alerts.GetAsync(id, cancellationToken);
        if (before is null) return TypedResults.NotFound();
        if (before.State == AlertStates.Resolved) return Conflict("The alert is resolved already.");
        var after = await alerts.AcknowledgeAsync(id, CallerIdentity.ActorIdOf(user), cancellationToken);
        await AuditAsync(audit, context, "alert.acknowledged", "alert", id, before.State, after!.State, cancellationToken);
        return TypedResults.Ok(after);
    }

    public static async Task<IResult> ResolveAsync(string id, HttpContext context, AlertService alerts, IAuditLog audit, CancellationToken cancellationToken)
    {
        var before = await alerts.GetAsync(id, cancellationToken);
        if (before is null) return TypedResults.NotFound();
        var after = await alerts.ResolveByIdAsync(id, cancellationToken);
        if (before.State != AlertStates.Resolved) await AuditAsync(audit, context, "alert.resolved", "alert", id, before.State, after!.State, cancellationToken);
        return TypedResults.Ok(after);
    }

    public static async Task<IResult> CreateWebhookAsync(CreateWebhookRequest? request, HttpContext context, ClaimsPrincipal user, WebhookOutbox outbox,
        EventsOutWorker eventsOut, IAuditLog audit, WebhookOptions options, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        if (request is null)
        {
            errors.Add("", "Send a JSON body with url and kinds.");
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }
        if (string.IsNullOrWhiteSpace(request.Url) || !Uri.TryCreate(request.Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            errors.Add("url", "url must be an absolute http or https URL.");
        else if (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && !new OutboundAddressPolicy(options.AllowLoopback, options.AllowPrivate).IsAllowed(address))
            // A name is checked when each delivery connects; an address can be refused now, before anything is stored.
            errors.Add("url", IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address)
                ? "url points at a loopback address; deliveries there are refused unless Insights:Webhooks:AllowLoopback is true."
                : "url points at a private, link-local or reserved address; deliveries there are refused unless Insights:Webhooks:AllowPrivate is true.");
        var kinds = request.Kinds ?? [WebhookKinds.Alerts];
        if (kinds.Count == 0) errors.Add("kinds", $"kinds must name at least one of {string.Join(", ", WebhookKinds.All)}.");
        for (var i = 0; i < kinds.Count; i++)
        {
            if (!WebhookKinds.All.Contains(kinds[i])) errors.Add($"kinds[{i}]", $"kinds may be {string.Join(", ", WebhookKinds.All)}.");
        }
        if (request.Secret is { } s && s.Length < 16) errors.Add("secret", "secret must have at least 16 characters (or leave it out to have one generated).");
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());

        var secret = request.Secret ?? "whsec_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var created = await outbox.CreateAsync(request.Url!, [.. kinds.Distinct()], secret, CallerIdentity.ActorIdOf(user), cancellationToken);
        if (created.Kinds.Contains(WebhookKinds.Events)) await eventsOut.StartAtEndAsync(EventsOutWorker.CursorName(created.Id), cancellationToken);
        await AuditAsync(audit, context, "webhook.created", "webhook", created.Id, null, created.Url, cancellationToken);
        return TypedResults.Created($"/api/v1/alerts/webhooks/{created.Id}", new CreatedWebhook(created.Id, created.Url, created.Kinds, created.Enabled, created.CreatedAt, secret));
    }

    public static async Task<IResult> ListWebhooksAsync(WebhookOutbox outbox, CancellationToken cancellationToken) =>
        TypedResults.Ok(new WebhookList(await outbox.ListAsync(cancellationToken)));

    public static async Task<IResult> DeleteWebhookAsync(string id, HttpContext context, WebhookOutbox outbox, IAuditLog audit, CancellationToken cancellationToken)
    {
        var existing = await outbox.GetAsync(id, cancellationToken);
        if (existing is null || !await outbox.DeleteAsync(id, cancellationToken)) return TypedResults.NotFound();
        await AuditAsync(audit, context, "webhook.deleted", "webhook", id, existing.Url, null, cancellationToken);
        return TypedResults.NoContent();
    }

    public static async Task<IResult> DeliveriesAsync(string id, int? limit, WebhookOutbox outbox, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > 1000)
        {
            var errors = new ValidationErrors();
            errors.Add("limit", "limit must be between 1 and 1000.");
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }
        if (await outbox.GetAsync(id, cancellationToken) is null) return TypedResults.NotFound();
        return TypedResults.Ok(new DeliveryList(await outbox.DeliveriesAsync(id, limit ?? 100, cancellationToken)));
    }

    private static IResult Conflict(string detail) => TypedResults.Problem(statusCode: 409, title: "Conflict", detail: detail);

    private static async Task AuditAsync(IAuditLog audit, HttpContext context, string action, string targetType, string targetId, string? before, string? after, CancellationToken cancellationToken)
    {
        await audit.AppendAsync(AuditEntry.ForRequest(context, action, targetType, targetId) with
        {
            Before = before is null ? null : JsonValue.Create(before),
            After = after is null ? null : JsonValue.Create(after),
        }, cancellationToken);
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
