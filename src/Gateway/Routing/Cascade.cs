using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Providers;

namespace LlmMarketplace.Gateway.Routing;

/// <summary>
/// The auto-router's part of routing one call: puts its choice first and, for a cascade, the deployment it may escalate
/// to second; then keeps the cascade's state while the call runs: the first answer is reviewed, and when escalated it is
/// paid for and held (served if every escalation fails) while the call goes on to the stronger deployment.
/// </summary>
internal sealed class Cascade
{
    private readonly IAutoRouter _router;

    private Cascade(IAutoRouter router, string escalateTo)
    {
        _router = router;
        EscalateTo = escalateTo;
    }

    /// <summary>The deployment the call may be escalated to (see <see cref="AutoRouteDecision.EscalateTo"/>).</summary>
    public string EscalateTo { get; }

    /// <summary>Usage of the answer escalated from, added to the final answer's.</summary>
    public TokenUsage EscalatedUsage { get; private set; }

    public decimal EscalatedCostUsd { get; private set; }

    /// <summary>The answer escalated from, with what it took; null until a review escalates.</summary>
    public HeldAnswer? Held { get; private set; }

    public sealed record HeldAnswer(RoutableDeployment Deployment, byte[] Body, TokenUsage Usage, TimeSpan UpstreamTime);

    /// <summary>
    /// Puts the auto-router's choice first (the others stay behind it, cheapest first, as fallbacks) and names the reason;
    /// a cascade (not streamed) puts the deployment it may escalate to second and returns its state.
    /// </summary>
    public static Cascade? Route(IAutoRouter router, GatewayCall call, RoutableModel model, List<RoutableDeployment> ordered, bool stream)
    {
        var decision = router.Choose(call, model.Config, ordered.Select(static d => d.Config).ToList());
        MoveTo(ordered, decision.DeploymentId, 0);
        call.ResponseHeaders[AutoRouteDecision.ReasonHeader] = decision.Reason;
        if (!stream && decision.EscalateTo is { } escalateTo && !string.Equals(escalateTo, decision.DeploymentId, StringComparison.Ordinal) &&
            MoveTo(ordered, escalateTo, 1))
        {
            return new Cascade(router, escalateTo);
        }
        return null;

        static bool MoveTo(List<RoutableDeployment> ordered, string id, int position)
        {
            var index = ordered.FindIndex(d => string.Equals(d.Id, id, StringComparison.Ordinal));
            if (index < 0) return false;
            var deployment = ordered[index];
            ordered.RemoveAt(index);
            ordered.Insert(Math.Min(position, ordered.Count), deployment);
            return true;
        }
    }

    /// <summary>
    /// Shows an answer (an OpenAI chat completion) to the auto-router: true when the first deployment's answer is to be
    /// escalated. The answer of the deployment escalated to is shown for learning and always kept.
    /// </summary>
    public bool Review(GatewayCall call, RoutableDeployment deployment, byte[] body)
    {
        var (text, finish) = ReadAnswer(body);
        if (call.EscalatedFrom is not null)
        {
            _router.Review(call, deployment.Id, text, finish);
            return false;
        }
        if (string.Equals(deployment.Id, EscalateTo, StringComparison.Ordinal)) return false;
        var verdict = _router.Review(call, deployment.Id, text, finish);
        if (verdict.Reason is { } reason) call.ResponseHeaders[AutoRouteDecision.ReasonHeader] = Sanitize(reason);
        call.ResponseHeaders[AutoRouteDecision.CascadeHeader] = verdict.Escalate ? "escalated" : "kept";
        return verdict.Escalate;
    }

    /// <summary>Holds an escalated answer: metered on the call already (<paramref name="usage"/>, its cost), it is added to the final answer's.</summary>
    public void Hold(GatewayCall call, RoutableDeployment deployment, byte[] body, TokenUsage usage, TimeSpan upstreamTime)
    {
        EscalatedUsage = call.Usage;
        EscalatedCostUsd = call.CostUsd;
        call.EscalatedFrom = deployment.Id;
        Held = new HeldAnswer(deployment, body, usage, upstreamTime);
    }

    /// <summary>Every escalation failed: the held answer is served after all, billed alone; null when nothing is held.</summary>
    public HeldAnswer? Keep(GatewayCall call)
    {
        if (Held is not { } held) return null;
        call.Provider = held.Deployment.Provider.Name;
        call.Deployment = held.Deployment.Id;
        call.UpstreamModel = held.Deployment.Config.UpstreamModel;
        EscalatedUsage = default;
        EscalatedCostUsd = 0;
        call.EscalatedFrom = null;
        call.ResponseHeaders[AutoRouteDecision.CascadeHeader] = "kept";
        call.ResponseHeaders[AutoRouteDecision.ReasonHeader] = Sanitize($"cascade: kept the answer of {held.Deployment.Id}; escalation to {EscalateTo} failed");
        return held;
    }

    /// <summary>The text and <c>choices[0].finish_reason</c> of an OpenAI chat completion (empty and null when unreadable).</summary>
    private static (string Text, string? FinishReason) ReadAnswer(byte[] body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            var finish = root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array &&
                   choices.GetArrayLength() > 0 && choices[0].ValueKind == JsonValueKind.Object &&
                   choices[0].TryGetProperty("finish_reason", out var reason) && reason.ValueKind == JsonValueKind.String
                ? reason.GetString()
                : null;
            return (OpenAIAdapter.CompletionTextOf(root), finish);
        }
        catch (JsonException)
        {
            return ("", null);
        }
    }

    /// <summary>Header values are ASCII without control characters.</summary>
    private static string Sanitize(string value) =>
        string.Create(value.Length, value, static (span, v) =>
        {
            for (var i = 0; i < v.Length; i++) span[i] = v[i] is >= ' ' and <= '~' ? v[i] : '?';
        });
}
