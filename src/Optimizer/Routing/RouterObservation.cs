namespace LlmMarketplace.Optimizer.Routing;

/// <summary>
/// One score the auto-router learned from: the routed call's prompt features (hashed, never the prompt), the deployment
/// that answered and the score. Folding the same observations gives every replica, and every restart, the same learning.
/// </summary>
internal sealed record RouterObservation(string Model, string Deployment, string Strong, int[] Indexes, double[] Values, bool Predicted, double Score)
{
    /// <summary>Set for cascaded calls.</summary>
    public CascadeObservation? Cascade { get; init; }
}

/// <summary>What the cascade learns from a call: the features of the cheap answer (null when it was not reviewed) and whether the two final answers agreed (null when either had none).</summary>
internal sealed record CascadeObservation(string Weak, double[]? Features, bool? Agree);
