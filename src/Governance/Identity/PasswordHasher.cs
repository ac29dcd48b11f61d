using System.Security.Cryptography;
using Konscious.Security.Cryptography;

namespace LlmMarketplace.Governance.Identity;

/// <summary>Argon2id password hashes in the PHC string format: <c>$argon2id$v=19$m=...,t=...,p=...$salt$hash</c>.</summary>
internal sealed class PasswordHasher(GovernanceOptions options)
{
    private const int SaltSize = 16;
    private const int HashSize = 32;
    private const int Parallelism = 1;

    public string Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltSize);
        var hash = Compute(password, salt, options.Argon2MemoryKib, options.Argon2Iterations, Parallelism, HashSize);
        return $"$argon2id$v=19$m={options.Argon2MemoryKib},t={options.Argon2Iterations},p={Parallelism}${B64(salt)}${B64(hash)}";
    }

    public bool Verify(string password, string encoded)
    {
        var parts = encoded.Split('$');
        if (parts.Length != 6 || parts[1] != "argon2id" || parts[2] != "v=19")
        {
            return false;
        }
        int m = 0, t = 0, p = 0;
        foreach (var kv in parts[3].Split(','))
        {
            var pair = kv.Split('=');
            if (pair.Length != 2 || !int.TryParse(pair[1], System.Globalization.CultureInfo.InvariantCulture, out var v)) return false;
            switch (pair[0])
            {
                case "m": m = v; break;
                case "t": t = v; break;
                case "p": p = v; break;
            }
        }
        if (m <= 0 || t <= 0 || p <= 0) return false;
        var salt = FromB64(parts[4]);
        var expected = FromB64(parts[5]);
        var actual = Compute(password, salt, m, t, p, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    /// <summary>Spends the same time as a real check, so an unknown user name is not told apart by timing.</summary>
    public void VerifyDummy(string password) =>
        Compute(password, new byte[SaltSize], options.Argon2MemoryKib, options.Argon2Iterations, Parallelism, HashSize);

    private static byte[] Compute(string password, byte[] salt, int memoryKib, int iterations, int parallelism, int size)
    {
        using var argon = new Argon2id(Encoding.UTF8.GetBytes(password))
        {
            Salt = salt,
            MemorySize = memoryKib,
            Iterations = iterations,
            DegreeOfParallelism = parallelism,
        };
        return argon.GetBytes(size);
    }

    private static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=');

    private static byte[] FromB64(string text) => Convert.FromBase64String(text.PadRight(text.Length + ((4 - (text.Length % 4)) % 4), '='));
}

/// <summary>The password policy: long enough, not the user name, not a well-known password.</summary>
internal sealed class PasswordPolicy(GovernanceOptions options)
{
    private static readonly HashSet<string> Common = new(StringComparer.OrdinalIgnoreCase)
    {
        "password", "password1", "password123", "passw0rd", "123456789012", "qwertyuiop", "letmein", "welcome", "admin", "administrator",
        "changeme", "iloveyou", "trustno1", "correcthorsebatterystaple", "passwordpassword", "qwertyqwerty", "111111111111", "000000000000",
    };

    public const int MaxLength = 256;

    /// <summary>Adds every way the password falls short to <paramref name="errors"/> under <paramref name="path"/>.</summary>
    public void Check(string? password, string? username, string path, BuildingBlocks.Validation.ValidationErrors errors)
    {
        if (string.IsNullOrEmpty(password))
        {
            errors.Add(path, "is required");
            return;
        }
        if (password.Length < options.PasswordMinLength) errors.Add(path, $"must have at least {options.PasswordMinLength} characters");
        if (password.Length > MaxLength) errors.Add(path, $"must have at most {MaxLength} characters");
        if (username is { Length: > 0 } && password.Contains(username, StringComparison.OrdinalIgnoreCase)) errors.Add(path, "must not contain the user name");
        if (Common.Contains(password) || password.Distinct().Count() < 4) errors.Add(path, "is too easy to guess; use a longer passphrase");
    }

    /// <summary>A random password that satisfies the policy (for first-run and admin-created accounts).</summary>
    public static string Generate() =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', '-').Replace('/', '_');
}
