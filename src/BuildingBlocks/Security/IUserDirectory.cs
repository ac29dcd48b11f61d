namespace LlmMarketplace.BuildingBlocks.Security;

/// <summary>
/// Whether a user id names a person or service account that can own credentials (Governance implements it), so other
/// modules never read Governance's tables to check who a key is issued to.
/// </summary>
public interface IUserDirectory
{
    /// <summary>True when the id names an existing account that is neither disabled nor erased.</summary>
    Task<bool> IsActiveAsync(string userId, CancellationToken cancellationToken);
}
