using LlmMarketplace.BuildingBlocks.Configuration;

namespace LlmMarketplace.Catalog;

/// <summary>The <c>Catalog</c> configuration section.</summary>
public sealed record CatalogOptions
{
    public const string SectionName = "Catalog";

    /// <summary>Whether search, autocomplete and listing pages answer without credentials (default: authenticated callers only).</summary>
    public bool PublicBrowsing { get; init; }

    /// <summary>Development setting: allow <c>http://</c> loopback endpoints in listings and probes to loopback addresses.</summary>
    public bool AllowLoopbackEndpoints { get; init; }

    /// <summary>Allow endpoints and probes on private (RFC 1918, unique-local) and link-local addresses.</summary>
    public bool AllowPrivateEndpoints { get; init; }

    /// <summary>Approvals a version needs before it is published.</summary>
    public int ApprovalLevels { get; init; } = 1;

    /// <summary>Approvals a version needs when it may see confidential or restricted data.</summary>
    public int ConfidentialApprovalLevels { get; init; } = 2;

    /// <summary>Publisher teams whose versions are published without approval once their checks pass.</summary>
    public IReadOnlyList<string> TrustedPublishers { get; init; } = [];

    public int ProbeTimeoutSeconds { get; init; } = 10;

    /// <summary>How often the in-memory catalog (index, routes) is reloaded from the database, for changes made by other replicas.</summary>
    public int RefreshSeconds { get; init; } = 30;

    /// <summary>Hybrid search (<c>Catalog:Embeddings:Enabled</c>, on by default): listings and queries are embedded and ranked by meaning as well as by words.</summary>
    public bool EmbeddingsEnabled { get; init; } = true;

    /// <summary>
    /// Base URL of an OpenAI-compatible embeddings endpoint (<c>Catalog:Embeddings:BaseUrl</c>); when empty, the
    /// embedding model that runs in this process (<see cref="LlmMarketplace.BuildingBlocks.Embeddings.LocalEmbeddingModel"/>) is used.
    /// </summary>
    public string? EmbeddingBaseUrl { get; init; }

    /// <summary>The embedding model to ask for (<c>Catalog:Embeddings:Model</c>); without a base URL, a local model id (default <c>all-minilm-l6-v2</c>).</summary>
    public string? EmbeddingModel { get; init; }

    /// <summary>A reference (<c>env:NAME</c>) to the endpoint's API key (<c>Catalog:Embeddings:ApiKey</c>).</summary>
    public string? EmbeddingApiKey { get; init; }

    /// <summary>Model registries the catalog mirrors (<c>Catalog:Sources</c>), synced on a schedule and on demand.</summary>
    public IReadOnlyList<Registry.RegistrySource> Sources { get; init; } = [];

    /// <summary>The settings the <c>Catalog</c> section may hold (checked at start: unknown ones are errors).</summary>
    public static readonly SettingsShape Shape = SettingsShape
        .Values("PublicBrowsing", "AllowLoopbackEndpoints", "AllowPrivateEndpoints", "ApprovalLevels", "ConfidentialApprovalLevels", "ProbeTimeoutSeconds", "RefreshSeconds")
        .With(("TrustedPublishers", SettingsShape.ListOf(SettingsShape.Value)), ("Embeddings", SettingsShape.Values("Enabled", "BaseUrl", "Model", "ApiKey")),
            ("Sources", SettingsShape.ListOf(Registry.RegistrySource.Shape)));

    public static CatalogOptions Read(IConfiguration configuration)
    {
        var s = configuration.GetSection(SectionName);
        var o = new CatalogOptions();
        return o with
        {
            PublicBrowsing = s.GetValue("PublicBrowsing", o.PublicBrowsing),
            AllowLoopbackEndpoints = s.GetValue("AllowLoopbackEndpoints", o.AllowLoopbackEndpoints),
            AllowPrivateEndpoints = s.GetValue("AllowPrivateEndpoints", o.AllowPrivateEndpoints),
            ApprovalLevels = Math.Max(1, s.GetValue("ApprovalLevels", o.ApprovalLevels)),
            ConfidentialApprovalLevels = Math.Max(1, s.GetValue("ConfidentialApprovalLevels", o.ConfidentialApprovalLevels)),
            TrustedPublishers = s.GetSection("TrustedPublishers").GetChildren().Select(static c => c.Value).Where(static v => !string.IsNullOrWhiteSpace(v)).Select(static v => v!).ToList(),
            ProbeTimeoutSeconds = Math.Clamp(s.GetValue("ProbeTimeoutSeconds", o.ProbeTimeoutSeconds), 1, 120),
            RefreshSeconds = Math.Clamp(s.GetValue("RefreshSeconds", o.RefreshSeconds), 1, 3600),
            EmbeddingsEnabled = s.GetValue("Embeddings:Enabled", o.EmbeddingsEnabled),
            EmbeddingBaseUrl = s["Embeddings:BaseUrl"],
            EmbeddingModel = s["Embeddings:Model"],
            EmbeddingApiKey = s["Embeddings:ApiKey"],
            Sources = Registry.RegistrySource.ReadAll(s.GetSection("Sources")),
        };
    }
}
