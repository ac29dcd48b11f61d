using LlmMarketplace.Catalog.Contracts;
using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Governance.Policies;

/// <summary>
/// <c>GET /v1/models</c> leaves out catalog listing versions a policy suspended: they cannot be called until they are
/// reinstated. They stay visible by name (<c>GET /v1/models/{id}</c>), and a call answers <c>listing_suspended</c> with the reasons.
/// </summary>
internal sealed class SuspendedListingVisibility(ComplianceMonitor compliance, IListingDirectory? listings = null) : IModelVisibility
{
    public bool IsVisible(ClaimsPrincipal user, string model) => true;

    public bool IsListed(ClaimsPrincipal user, string model) =>
        listings?.FindByModel(model) is not { } listing || compliance.Suspension(listing.ListingId, listing.Version) is null;
}
