using LlmMarketplace.Access.Keys;

namespace LlmMarketplace.Access.Plans;

/// <summary>
/// Says whether calls to a model must come under an active subscription to one of its plans.
/// The default answers from the plans attached to the model through the Access API (none for a plain config model);
/// the catalog registers its own for listings that require a subscription.
/// </summary>
public interface ISubscriptionRequirement
{
    bool RequiresSubscription(string model);
}

internal sealed class PlanSubscriptionRequirement(AccessDirectory directory) : ISubscriptionRequirement
{
    public bool RequiresSubscription(string model) => directory.Current.PlansByModel.ContainsKey(model);
}

/// <summary>Subscription states: submitted → active | rejected; active → suspended | cancelled | expired; suspended → active | cancelled.</summary>
public static class SubscriptionStatus
{
    public const string Submitted = "submitted";
    public const string Active = "active";
    public const string Rejected = "rejected";
    public const string Suspended = "suspended";
    public const string Cancelled = "cancelled";
    public const string Expired = "expired";

    /// <summary>The transitions an action makes, from the states it applies to.</summary>
    public static readonly IReadOnlyDictionary<string, (string[] From, string To)> Actions = new Dictionary<string, (string[] From, string To)>(StringComparer.Ordinal)
    {
        ["approve"] = ([Submitted], Active),
        ["reject"] = ([Submitted], Rejected),
        ["suspend"] = ([Active], Suspended),
        ["resume"] = ([Suspended], Active),
        ["cancel"] = ([Submitted, Active, Suspended], Cancelled),
    };
}
