using Dapper;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.BuildingBlocks.Storage;
using Microsoft.AspNetCore.DataProtection;

namespace LlmMarketplace.Governance.Tests.Secrets;

/// <summary>
/// Data protection keys (which encrypt the portal's session storage) live in the shared database, encrypted with the
/// installation's root key: what one replica protected, another reads.
/// </summary>
public sealed class DataProtectionKeyTests
{
    [Fact]
    public async Task What_one_replica_protected_another_reads_and_the_stored_keys_are_encrypted()
    {
        await using var storage = await TestStorage.CreateAsync("postgres");
        var overrides = storage.Overrides;
        overrides["Security:EncryptionKey"] = GatewayHost.NewRootKey();

        await using var first = await Gov.StartAsync(overrides: overrides);
        await using var second = await Gov.StartAsync(overrides: overrides);
        var sealedText = first.Service<IDataProtectionProvider>().CreateProtector("portal-session").Protect("access-token-123");
        Assert.Equal("access-token-123", second.Service<IDataProtectionProvider>().CreateProtector("portal-session").Unprotect(sealedText));

        await using var connection = await first.Service<Database>().OpenAsync();
        var stored = (await connection.QueryAsync<string>("SELECT xml FROM gov_data_protection_keys")).ToList();
        var key = Assert.Single(stored);
        Assert.Contains("<encryptedKey", key, StringComparison.Ordinal);
        // The key material itself (the <masterKey> element) is inside the ciphertext, not in the row.
        Assert.DoesNotContain("masterKey", key, StringComparison.Ordinal);
    }

    [Theory]
    [OnEachStorage]
    public async Task A_replica_with_another_root_key_refuses_to_start_and_one_with_the_same_key_reads_what_the_first_stored(string provider)
    {
        await using var storage = await TestStorage.CreateAsync(provider);
        var overrides = storage.Overrides;
        var key = GatewayHost.NewRootKey();

        await using var first = await Gov.StartAsync(overrides: new Dictionary<string, string?>(overrides) { ["Security:EncryptionKey"] = key });
        var sealedText = first.Service<IDataProtectionProvider>().CreateProtector("portal-session").Protect("access-token-123");
        var refused = await Assert.ThrowsAsync<InvalidConfigurationException>(() =>
            Gov.StartAsync(overrides: new Dictionary<string, string?>(overrides) { ["Security:EncryptionKey"] = GatewayHost.NewRootKey() }));
        Assert.Contains("Security:EncryptionKey", refused.Message, StringComparison.Ordinal);
        Assert.Contains("same key", refused.Message, StringComparison.Ordinal);

        await using var second = await Gov.StartAsync(overrides: new Dictionary<string, string?>(overrides) { ["Security:EncryptionKey"] = key });
        Assert.Equal("access-token-123", second.Service<IDataProtectionProvider>().CreateProtector("portal-session").Unprotect(sealedText));
    }
}
