using System.Security.Cryptography;

namespace LlmMarketplace.Governance.Secrets;

/// <summary>
/// Checks on start that this process's root key is the one the database was first used with (the first process to start
/// on it records <see cref="KeyRing.CheckValue"/>). With another key, provider credentials and data protection keys the
/// others stored could not be decrypted, nor access tokens they signed verified; the start stops with the setting named
/// instead of serving with errors later.
/// </summary>
internal sealed class RootKeyCheck(Database database, KeyRing keys, TimeProvider time)
{
    public async Task VerifyAsync(CancellationToken cancellationToken)
    {
        var mine = keys.CheckValue;
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO gov_root_key_check (id, check_value, created_at) VALUES (1, @mine, @now) ON CONFLICT (id) DO NOTHING",
            new { mine, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, cancellationToken: cancellationToken));
        var recorded = await connection.QuerySingleAsync<string>(new CommandDefinition(
            "SELECT check_value FROM gov_root_key_check WHERE id = 1", cancellationToken: cancellationToken));
        if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(mine), Encoding.ASCII.GetBytes(recorded))) return;
        var errors = new ValidationErrors();
        errors.Add(KeyRing.ConfigKey,
            "this root key is not the one the database was first used with. Every replica of an installation needs the same key "
            + "(set the same Security:EncryptionKey on all of them; without it each makes a key file of its own in its data directory), "
            + "or it could not read the provider credentials and data protection keys the others stored, nor verify the access tokens they signed.");
        throw new InvalidConfigurationException(errors);
    }
}
