using System.Security.Cryptography;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace LlmMarketplace.Governance.Secrets;

/// <summary>
/// ASP.NET Core data protection (which encrypts the portal's session storage and antiforgery tokens) keeps its keys in
/// the database, so every replica reads what another protected, and a restart does not sign people out. The key
/// material is encrypted at rest with a key derived from the installation's root key (<see cref="KeyRing"/>), which
/// replicas share already.
/// </summary>
internal static class DataProtectionKeys
{
    public const string ApplicationName = "llm-marketplace";

    public static void AddSharedDataProtection(this IServiceCollection services)
    {
        services.AddDataProtection().SetApplicationName(ApplicationName);
        services.TryAddSingleton<DatabaseXmlRepository>();
        services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(static sp => new ConfigureOptions<KeyManagementOptions>(options =>
        {
            options.XmlRepository = sp.GetRequiredService<DatabaseXmlRepository>();
            // The key ring is resolved when a key is first encrypted, not when the app is composed, so a command that only
            // reads (config check) creates no key file.
            options.XmlEncryptor = new KeyRingXmlEncryptor(sp);
        }));
    }
}

/// <summary>Data protection keys in <c>gov_data_protection_keys</c>, one row per key.</summary>
internal sealed class DatabaseXmlRepository(Database database, TimeProvider time) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var connection = database.Open();
        return connection.Query<string>("SELECT xml FROM gov_data_protection_keys ORDER BY created_at, name")
            .Select(static xml => XElement.Parse(xml))
            .ToList();
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        using var connection = database.Open();
        // A name is unique per key (its id); a replica that lost a race to store the same key keeps the first copy.
        connection.Execute(
            "INSERT INTO gov_data_protection_keys (name, xml, created_at) VALUES (@name, @xml, @created) ON CONFLICT (name) DO NOTHING",
            new { name = friendlyName, xml = element.ToString(SaveOptions.DisableFormatting), created = time.GetUtcNow().ToUnixTimeMilliseconds() });
    }
}

/// <summary>Encrypts a key's XML with AES-256-GCM under <see cref="KeyRing.DataProtectionKey"/>.</summary>
internal sealed class KeyRingXmlEncryptor(IServiceProvider services) : IXmlEncryptor
{
    private const int NonceSize = 12;
    private const int TagSize = 16;

    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        var plain = Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting));
        var nonce = RandomNumberGenerator.GetBytes(NonceSize);
        var cipher = new byte[plain.Length];
        var tag = new byte[TagSize];
        using (var aes = new AesGcm(services.GetRequiredService<KeyRing>().DataProtectionKey, TagSize))
        {
            aes.Encrypt(nonce, plain, cipher, tag);
        }
        var element = new XElement("encryptedKey",
            new XComment(" This key is encrypted with a key derived from the installation's root key (Security:EncryptionKey). "),
            new XElement("value", Convert.ToBase64String([.. nonce, .. tag, .. cipher])));
        return new EncryptedXmlInfo(element, typeof(KeyRingXmlDecryptor));
    }

    internal static XElement Decrypt(KeyRing keys, XElement encryptedElement)
    {
        var data = Convert.FromBase64String((string?)encryptedElement.Element("value") ?? throw new CryptographicException("The encrypted data protection key has no value."));
        if (data.Length < NonceSize + TagSize) throw new CryptographicException("The encrypted data protection key is too short.");
        var plain = new byte[data.Length - NonceSize - TagSize];
        using (var aes = new AesGcm(keys.DataProtectionKey, TagSize))
        {
            aes.Decrypt(data.AsSpan(0, NonceSize), data.AsSpan(NonceSize + TagSize), data.AsSpan(NonceSize, TagSize), plain);
        }
        return XElement.Parse(Encoding.UTF8.GetString(plain));
    }
}

/// <summary>The decryptor data protection creates (by type, with the service provider) to read keys back.</summary>
internal sealed class KeyRingXmlDecryptor(IServiceProvider services) : IXmlDecryptor
{
    public XElement Decrypt(XElement encryptedElement) => KeyRingXmlEncryptor.Decrypt(services.GetRequiredService<KeyRing>(), encryptedElement);
}
