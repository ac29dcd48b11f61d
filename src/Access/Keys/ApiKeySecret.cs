using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace LlmMarketplace.Access.Keys;

/// <summary>API key secrets: 256 random bits, shown once, stored only as a SHA-256 hash and a short visible prefix.</summary>
internal static class ApiKeySecret
{
    public const string Prefix = "llmm-";

    /// <summary>Characters of the key kept in clear to identify it in lists (the prefix plus a few random characters).</summary>
    public const int VisibleLength = 12;

    public static string Generate()
    {
        Span<byte> random = stackalloc byte[32];
        RandomNumberGenerator.Fill(random);
        return Prefix + Base64Url.EncodeToString(random);
    }

    public static string Hash(string key)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), hash);
        return Convert.ToHexStringLower(hash);
    }

    public static string Visible(string key) => key[..Math.Min(VisibleLength, key.Length)];

    public static bool LooksLikeKey(string credential) => credential.StartsWith(Prefix, StringComparison.Ordinal);
}
