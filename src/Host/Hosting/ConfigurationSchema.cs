using LlmMarketplace.Access;
using LlmMarketplace.BuildingBlocks.Configuration;
using LlmMarketplace.BuildingBlocks.Distributed;
using LlmMarketplace.BuildingBlocks.Http;
using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Catalog;
using LlmMarketplace.Governance;
using LlmMarketplace.Insights;
using LlmMarketplace.Insights.Alerts;
using LlmMarketplace.Insights.Events;
using LlmMarketplace.Optimizer;
using LlmMarketplace.Shield.Configuration;
using Microsoft.Extensions.Configuration;

namespace LlmMarketplace.Host.Hosting;

/// <summary>
/// Every section and setting the program reads, as each module declares it. Checked before anything else at start
/// (and so by <c>config check</c>): a misspelled section or key is an error naming the nearest known one, never a
/// setting silently ignored (<c>Storge: {Provider: postgres}</c> would otherwise run on SQLite).
/// </summary>
public static class ConfigurationSchema
{
    public static readonly SettingsShape Root = SettingsShape.Object(
        // The gateway checks its sections against its shapes itself (GatewayConfigReader), together with their values
        // and again on every reload, so their unknown settings are reported beside the other problems there.
        ("Providers", SettingsShape.Anything),
        ("Models", SettingsShape.Anything),
        ("Gateway", SettingsShape.Anything),
        (StorageOptions.SectionName, SettingsShape.Of<StorageOptions>()),
        (RedisOptions.SectionName, SettingsShape.Of<RedisOptions>()),
        (AccessOptions.SectionName, SettingsShape.Of<AccessOptions>()),
        (GovernanceOptions.SectionName, SettingsShape.Of<GovernanceOptions>()),
        ("Security", SettingsShape.Values("EncryptionKey")),
        (ShieldSettings.SectionName, ShieldSettings.Shape),
        (CatalogOptions.SectionName, CatalogOptions.Shape),
        (InsightsOptions.SectionName, SettingsShape.Of<InsightsOptions>().With(
            ("Alerts", SettingsShape.Of<AlertOptions>()),
            ("Events", SettingsShape.Of<EventsOptions>()),
            ("Webhooks", SettingsShape.Of<WebhookOptions>()))),
        (OptimizerOptions.SectionName, SettingsShape.Of<OptimizerOptions>()),
        ("Management", SettingsShape.Object(("RateLimits", SettingsShape.Of<ManagementRateLimitOptions>()))),
        (HttpsOptions.SectionName, SettingsShape.Of<HttpsOptions>()),
        (ForwardedHeadersSettings.SectionName, SettingsShape.Of<ForwardedHeadersSettings>()),
        ("Telemetry", SettingsShape.Values("OtlpEndpoint", "PortalMetrics")),
        ("Urls", SettingsShape.Value),
        ("AllowedHosts", SettingsShape.Value),
        // Owned by ASP.NET Core and .NET logging, which check their own.
        ("Kestrel", SettingsShape.Anything),
        ("Logging", SettingsShape.Anything),
        ("DisableStaticAssetNotFoundRuntimeFallback", SettingsShape.Value));

    /// <summary>Throws <see cref="InvalidConfigurationException"/> listing every unknown section and setting.</summary>
    public static void ThrowIfUnknownSettings(IConfiguration configuration)
    {
        var errors = Root.Check(configuration);
        if (!errors.IsEmpty) throw new InvalidConfigurationException(errors);
    }
}
