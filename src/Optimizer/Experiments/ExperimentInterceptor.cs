using System.Text.Json.Nodes;
using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Optimizer.Experiments;

/// <summary>
/// Puts each chat call to a model under experiment into its variant (sticky per unit): narrows the call to the variant's
/// deployment and sets its parameters, names it in <c>x-gateway-experiment</c>, and records the call's guard metrics.
/// </summary>
internal sealed class ExperimentInterceptor(ExperimentDirectory directory, ExperimentCallWriter calls) : IGatewayInterceptor
{
    public GatewayStage Stage => GatewayStage.Routing;

    public const string Header = "x-gateway-experiment";

    /// <summary>The experiment and variant a call was put into, kept on the call for its guard metrics.</summary>
    private sealed record Assignment(string ExperimentId, string Variant);

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
            // The body as it stands: an earlier stage's rewrite (for example the shield's redaction) is kept.
            var body = JsonNode.Parse(call.Request.GetRawText())!.AsObject();
            foreach (var (name, value) in parameters) body[name] = value?.DeepClone();
            call.ReplacementBody = JsonSerializer.SerializeToUtf8Bytes(body);
        }
        call.Features.Set(new Assignment(experiment.Row.Id, variant.Name));
        call.ResponseHeaders[Header] = experiment.Row.Id + "/" + variant.Name;
        return ValueTask.FromResult<GatewayRejection?>(null);
    }

    public async ValueTask AfterAsync(GatewayCall call, CancellationToken cancellationToken)
    {
        if (call.Features.Get<Assignment>() is not { } assignment) return;
        await calls.EnqueueAsync(new ExperimentCall(call.RequestId, assignment.ExperimentId, assignment.Variant, call.Status, call.CostUsd,
            call.Latency.TotalMilliseconds, call.StartedAt.ToUnixTimeMilliseconds()), cancellationToken);
    }

    /// <summary>The unit a variant sticks to: the request's <c>user</c> field (an end user or session), else the caller.</summary>
    internal static string Unit(GatewayCall call, string stickyBy)
    {
        if (stickyBy == StickyBy.User && call.Request.ValueKind == JsonValueKind.Object &&
            call.Request.TryGetProperty("user", out var user) && user.ValueKind == JsonValueKind.String && user.GetString() is { Length: > 0 } u)
        {
            return "user:" + u;
        }
        var caller = call.Caller;
        return caller.UserId is { } id ? "principal:" + id
            : caller.KeyId is { } key ? "key:" + key
            : caller.Name is { } name ? "principal:" + name
            : "request:" + call.RequestId;
    }
}
