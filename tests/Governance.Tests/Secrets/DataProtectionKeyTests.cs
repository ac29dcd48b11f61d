using Dapper;
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
        overrides["Security:EncryptionKey"] = Gov.NewEncryptionKey();

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

    [Fact]
    public async Task A_replica_with_another_root_key_cannot_read_the_stored_keys()
    {
        await using var storage = await TestStorage.CreateAsync("postgres");
        var overrides = storage.Overrides;

        await using var first = await Gov.StartAsync(overrides: new Dictionary<string, string?>(overrides) { ["Security:EncryptionKey"] = Gov.NewEncryptionKey() });
        var sealedText = first.Service<IDataProtectionProvider>().CreateProtector("portal-session").Protect("access-token-123");
        await using var stranger = await Gov.StartAsync(overrides: new Dictionary<string, string?>(overrides) { ["Security:EncryptionKey"] = Gov.NewEncryptionKey() });
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() =>
            stranger.Service<IDataProtectionProvider>().CreateProtector("portal-session").Unprotect(sealedText));
    }
}
