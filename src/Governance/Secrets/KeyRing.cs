using System.Security.Cryptography;
using LlmMarketplace.BuildingBlocks.Secrets;

namespace LlmMarketplace.Governance.Secrets;

/// <summary>
/// The installation's root key: <c>Security:EncryptionKey</c> (a reference, <c>env:NAME</c> or <c>file:PATH</c>, to 32
/// bytes in base64 or hex), else a key file generated in the data directory with mode 0600 on first run.
/// Purpose keys (secret encryption, token signing) are derived from it with HKDF, so one key never serves two uses.
/// </summary>
internal sealed class KeyRing
{
    public const string ConfigKey = "Security:EncryptionKey";
    public const string KeyFileName = "llm-marketplace.key";

    private readonly byte[] _root;

    public KeyRing(IConfiguration configuration, StorageOptions storage, ILogger<KeyRing> logger)
    {
        var reference = configuration[ConfigKey];
        if (!string.IsNullOrWhiteSpace(reference))
        {
            var errors = new ValidationErrors();
            if (!SecretReference.TryResolve(reference, out var secret, out var error))
            {
                errors.Add(ConfigKey, error!);
                throw new InvalidConfigurationException(errors);
            }
            _root = Decode(secret!) ?? throw Invalid("must hold 32 bytes in base64 or hex (e.g. `openssl rand -base64 32`)");
            return;
        }
        var path = Path.Combine(storage.DataDirectory, KeyFileName);
        if (File.Exists(path))
        {
            _root = Decode(File.ReadAllText(path).Trim()) ?? throw Invalid($"the key file '{KeyFileName}' in the data directory is not 32 bytes of base64");
            return;
        }
        Directory.CreateDirectory(storage.DataDirectory);
        var key = RandomNumberGenerator.GetBytes(32);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        try
        {
            using var stream = new FileStream(path, options);
            stream.Write(Encoding.ASCII.GetBytes(Convert.ToBase64String(key)));
            Log.KeyFileCreated(logger);
            _root = key;
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process created it first; use theirs.
            _root = Decode(File.ReadAllText(path).Trim()) ?? throw Invalid($"the key file '{KeyFileName}' is not 32 bytes of base64");
        }
    }

    /// <summary>The AES-256-GCM key for secrets at rest.</summary>
    public byte[] SecretsKey => Derive("llmm secrets at rest v1");

    /// <summary>The AES-256-GCM key for ASP.NET Core data protection keys at rest.</summary>
    public byte[] DataProtectionKey => Derive("llmm data protection keys v1");

    /// <summary>The HMAC-SHA256 key that signs access tokens.</summary>
    public byte[] TokenSigningKey => Derive("llmm access tokens v1");

    /// <summary>
    /// A value that identifies the root key without revealing it or any key derived for another purpose (HKDF with a
    /// purpose of its own): equal values, equal keys.
    /// </summary>
    public string CheckValue => Convert.ToBase64String(Derive("llmm root key check v1"));

    private byte[] Derive(string purpose) => HKDF.DeriveKey(HashAlgorithmName.SHA256, _root, 32, salt: [], info: Encoding.UTF8.GetBytes(purpose));

    private static byte[]? Decode(string text)
    {
        try
        {
            var bytes = Convert.FromBase64String(text);
            if (bytes.Length == 32) return bytes;
        }
        catch (FormatException)
        {
        }
        try
        {
            var bytes = Convert.FromHexString(text);
            if (bytes.Length == 32) return bytes;
        }
        catch (FormatException)
        {
        }
        return null;
    }

    private static InvalidConfigurationException Invalid(string message)
    {
        var errors = new ValidationErrors();
        errors.Add(ConfigKey, message);
        return new InvalidConfigurationException(errors);
    }
}
