namespace LlmMarketplace.Governance.Identity;

/// <summary>Answers <see cref="IUserDirectory"/> from the user store.</summary>
internal sealed class UserDirectory(UserStore users) : IUserDirectory
{
    public async Task<bool> IsActiveAsync(string userId, CancellationToken cancellationToken) =>
        await users.FindByIdAsync(userId, cancellationToken) is { Disabled: 0, ErasedAt: null };
}
