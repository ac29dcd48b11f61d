using System.Security.Cryptography;
using LlmMarketplace.BuildingBlocks.Secrets;
using LlmMarketplace.Governance.Contracts;

namespace LlmMarketplace.Governance.Secrets;

/// <summary>
/// Secrets encrypted with AES-256-GCM (random 96-bit nonce per value; the secret's name is the associated data, so a
/// ciphertext moved to another name does not decrypt).
/// </summary>
internal sealed class EncryptedSecretStore(Database database, KeyRing keys, TimeProvider time) : ISecretStore
{
    private const byte FormatVersion = 1;
    private const int NonceSize = 12;
    private const int TagSize = 16;

    private readonly byte[] _key = keys.SecretsKey;

    public async Task PutAsync(string name, string value, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(value);
        var sealedValue = Seal(name, value);
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO gov_secrets (name, value, updated_at) VALUES (@name, @value, @now)
            ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
            """, new { name, value = sealedValue, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, cancellationToken: cancellationToken));
    }

    public async Task<string?> GetAsync(string name, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var stored = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "SELECT value FROM gov_secrets WHERE name = @name", new { name }, cancellationToken: cancellationToken));
        return stored is null ? null : Open(name, stored);
    }

    public async Task<bool> DeleteAsync(string name, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition("DELETE FROM gov_secrets WHERE name = @name", new { name }, cancellationToken: cancellationToken)) > 0;
    }

    public async Task<IReadOnlyList<string>> ListAsync(string prefix = "", CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var names = await connection.QueryAsync<string>(new CommandDefinition("SELECT name FROM gov_secrets ORDER BY name", cancellationToken: cancellationToken));
        return names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToList();
    }

    internal string Seal(string name, string value)
    {
        var plaintext = Encoding.UTF8.GetBytes(value);
        var output = new byte[1 + NonceSize + plaintext.Length + TagSize];
        output[0] = FormatVersion;
        var nonce = output.AsSpan(1, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagSize);
        aes.Encrypt(nonce, plaintext, output.AsSpan(1 + NonceSize, plaintext.Length), output.AsSpan(1 + NonceSize + plaintext.Length), Encoding.UTF8.GetBytes(name));
        CryptographicOperations.ZeroMemory(plaintext);
        return Convert.ToBase64String(output);
    }

    internal string Open(string name, string stored)
    {
        var input = Convert.FromBase64String(stored);
        if (input.Length < 1 + NonceSize + TagSize || input[0] != FormatVersion)
        {
            throw new CryptographicException($"The secret '{name}' is not in a known format.");
        }
        var length = input.Length - 1 - NonceSize - TagSize;
        var plaintext = new byte[length];
        using var aes = new AesGcm(_key, TagSize);
        aes.Decrypt(input.AsSpan(1, NonceSize), input.AsSpan(1 + NonceSize, length), input.AsSpan(1 + NonceSize + length), plaintext, Encoding.UTF8.GetBytes(name));
        return Encoding.UTF8.GetString(plaintext);
    }
}
