using System.Text.Json;
using System.Text.Json.Nodes;
using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Insights.Optimizer.Experiments;

/// <summary>
/// Puts each chat call to a model under experiment into its variant (sticky per unit): narrows the call to the variant's
/// deployment and sets its parameters, names it in <c>x-gateway-experiment</c>, and records the call's guard metrics.
/// </summary>
internal sealed class ExperimentInterceptor(ExperimentDirectory directory, ExperimentStore store) : IGatewayInterceptor
{
    public GatewayStage Stage => GatewayStage.Routing;

    public const string Header = "x-gateway-experiment";
    private const string ItemKey = "optimizer.experiment";

    public ValueTask<GatewayRejection?> BeforeAsync(GatewayCall call, CancellationToken cancellationToken)
    {
        if (call.Operation is not ("chat" or "responses" or "messages") || !directory.TryGet(call.Model, out var experiment)) return ValueTask.FromResult<GatewayRejection?>(null);
        var variant = experiment.Assign(Unit(call, experiment.Row.StickyBy));
        if (variant.Deployment is { } deployment)
        {
            // Another interceptor (policy) may have narrowed the deployments already: keep within them.
            if (call.AllowedDeployments is null || call.AllowedDeployments.Contains(deployment, StringComparer.Ordinal))
            {
                call.AllowedDeployments = [deployment];
            }
        }
        if (variant.Parameters is { Count: > 0 } parameters)
        {
            var body = call.ReplacementBody is { } replaced
                ? JsonNode.Parse(replaced.Span)!.AsObject()
                : JsonNode.Parse(call.Request.GetRawText())!.AsObject();
            foreach (var (name, value) in parameters) body[name] = value?.DeepClone();
            call.ReplacementBody = JsonSerializer.SerializeToUtf8Bytes(body);
        }
        call.Items[ItemKey] = (experiment.Row.Id, variant.Name);
        call.ResponseHeaders[Header] = experiment.Row.Id + "/" + variant.Name;
        return ValueTask.FromResult<GatewayRejection?>(null);
    }

    public async ValueTask AfterAsync(GatewayCall call, CancellationToken cancellationToken)
    {
        if (!call.Items.TryGetValue(ItemKey, out var item) || item is not (string experimentId, string variant)) return;
        await store.RecordCallAsync(call.RequestId, experimentId, variant, call.Status, call.CostUsd, call.Latency.TotalMilliseconds, call.StartedAt.ToUnixTimeMilliseconds());
    }

    /// <summary>The unit a variant sticks to: the request's <c>user</c> field (an end user or session), else the caller.</summary>
    internal static string Unit(GatewayCall call, string stickyBy)
    {
        if (stickyBy == StickyBy.User && call.Request.ValueKind == JsonValueKind.Object &&
            call.Request.TryGetProperty("user", out var user) && user.ValueKind == JsonValueKind.String && user.GetString() is { Length: > 0 } u)
        {
            return "user:" + u;
        }
        return call.User.FindFirst(MarketplaceClaims.UserId)?.Value is { } id ? "principal:" + id
            : call.User.FindFirst(MarketplaceClaims.KeyId)?.Value is { } key ? "key:" + key
            : call.User.FindFirst(System.Security.Claims.ClaimTypes.NameIdentifier)?.Value is { } name ? "principal:" + name
            : "request:" + call.RequestId;
    }
}
