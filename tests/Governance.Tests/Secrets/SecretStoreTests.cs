using Dapper;
using LlmMarketplace.BuildingBlocks.Secrets;
using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Governance.Contracts;

namespace LlmMarketplace.Governance.Tests.Secrets;

/// <summary>Secrets are AES-256-GCM ciphertext in the database, readable only by server code, never returned by the API.</summary>
public sealed class SecretStoreTests
{
    [Theory]
    [OnEachStorage]
    public async Task Secrets_are_encrypted_at_rest_and_never_returned_by_the_api(string provider)
    {
        await using var host = await Gov.StartOnAsync(provider);
        const string value = "sk-live-THIS-IS-A-PROVIDER-KEY-0123456789";
        using (var put = await host.Client.PutAsJsonAsync("api/v1/secrets/openai-prod", new { value }))
        {
            Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
        }
        await using (var connection = await host.Service<Database>().OpenAsync())
        {
            var stored = await connection.QuerySingleAsync<string>("SELECT value FROM gov_secrets WHERE name = 'openai-prod'");
            Assert.DoesNotContain("sk-live", stored, StringComparison.Ordinal);
            Assert.DoesNotContain("sk-live", System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(stored)), StringComparison.Ordinal);
        }
        Assert.Equal(value, await host.Service<ISecretStore>().GetAsync("openai-prod"));

        var list = await host.Client.GetStringAsync("api/v1/secrets");
        Assert.Contains("openai-prod", list, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-live", list, StringComparison.Ordinal);
        var audit = await host.Client.GetStringAsync("api/v1/audit?targetType=secret");
        Assert.Contains("secret.created", audit, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-live", audit, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_ciphertext_moved_to_another_name_or_altered_does_not_decrypt()
    {
        await using var host = await Gov.StartAsync();
        var store = host.Service<ISecretStore>();
        await store.PutAsync("a", "first-secret-value");
        await store.PutAsync("b", "second-secret-value");
        await using (var connection = await host.Service<Database>().OpenAsync())
        {
            await connection.ExecuteAsync("UPDATE gov_secrets SET value = (SELECT value FROM gov_secrets WHERE name = 'a') WHERE name = 'b'");
        }
        await Assert.ThrowsAnyAsync<System.Security.Cryptography.CryptographicException>(() => store.GetAsync("b"));
        Assert.Equal("first-secret-value", await store.GetAsync("a"));
    }

    [Fact]
    public async Task The_key_comes_from_configuration_when_set_and_a_missing_reference_fails_at_start_with_the_setting_named()
    {
        await using (var host = await Gov.StartAsync(overrides: new Dictionary<string, string?> { ["Security:EncryptionKey"] = GatewayHost.NewRootKey() }))
        {
            await host.Service<ISecretStore>().PutAsync("k", "v-123");
            Assert.Equal("v-123", await host.Service<ISecretStore>().GetAsync("k"));
            Assert.False(File.Exists(Path.Combine(host.Service<StorageOptions>().DataDirectory, "llm-marketplace.key")));
        }
        var error = await Assert.ThrowsAsync<LlmMarketplace.BuildingBlocks.Validation.InvalidConfigurationException>(() =>
            Gov.StartAsync(overrides: new Dictionary<string, string?> { ["Security:EncryptionKey"] = "env:LLMM_TEST_KEY_NOT_SET_ANYWHERE" }));
        Assert.Contains("Security:EncryptionKey", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task The_generated_key_file_is_readable_by_the_owner_only()
    {
        await using var host = await Gov.StartAsync(overrides: new Dictionary<string, string?> { [GatewayHost.RootKeySetting] = null });
        var path = Path.Combine(host.Service<StorageOptions>().DataDirectory, "llm-marketplace.key");
        await host.Service<ISecretStore>().PutAsync("x", "y");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }
}
