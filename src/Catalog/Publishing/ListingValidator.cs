using System.Net;
using System.Text.RegularExpressions;
using LlmMarketplace.BuildingBlocks.Net;
using LlmMarketplace.BuildingBlocks.Secrets;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;

namespace LlmMarketplace.Catalog.Publishing;

/// <summary>
/// Validates a listing in layers, collecting every problem with its JSON path: schema (required fields, formats),
/// business rules (consistency), security (https endpoints, no credentials in URLs or text, no private targets)
/// and the OpenAPI document of non-chat services. The policy layer is <see cref="ICatalogPublishPolicy"/>.
/// </summary>
internal static partial class ListingValidator
{
    private static readonly HashSet<string> Modalities = new(StringComparer.Ordinal) { "text", "image", "audio", "video", "file", "embeddings" };
    private static readonly HashSet<string> Classifications = new(StringComparer.Ordinal) { "public", "internal", "confidential", "restricted" };
    private static readonly HashSet<string> ProviderTypes = new(StringComparer.Ordinal) { "openai", "azure-openai", "anthropic", "gemini",
        "cohere",
    };

    [GeneratedRegex("^[a-z0-9][a-z0-9._~:/-]{0,127}$")]
    private static partial Regex SlugPattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,39}$")]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"(sk-[A-Za-z0-9_-]{16,}|sk-ant-[A-Za-z0-9_-]{10,}|AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{30,}|xox[bpas]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{30,}|-----BEGIN [A-Z ]*PRIVATE KEY-----|bearer\s+[A-Za-z0-9._~+/-]{20,})", RegexOptions.IgnoreCase)]
    private static partial Regex SecretPattern();

    [GeneratedRegex(@"(^|[?&])(api[-_]?key|key|token|access[-_]?token|secret|password|sig|signature)=", RegexOptions.IgnoreCase)]
    private static partial Regex SecretQuery();

    public static void Validate(ListingSpec spec, CatalogOptions options, ValidationErrors errors, bool requireSlug = true)
    {
        // Schema
        if (requireSlug || spec.Slug is not null)
        {
            if (string.IsNullOrWhiteSpace(spec.Slug)) errors.Add("slug", "is required");
            else if (!SlugPattern().IsMatch(spec.Slug)) errors.Add("slug", "must be 1–128 lower-case letters, digits and . _ ~ : / - (it is the model name clients send)");
            else if (spec.Slug.Contains('@', StringComparison.Ordinal)) errors.Add("slug", "must not contain '@'");
        }
        if (string.IsNullOrWhiteSpace(spec.Version)) errors.Add("version", "is required (Semantic Versioning, e.g. 1.0.0)");
        else if (!SemVer.TryParse(spec.Version, out _)) errors.Add("version", $"'{spec.Version}' is not a Semantic Version (MAJOR.MINOR.PATCH, e.g. 1.2.0 or 2.0.0-beta.1)");
        if (string.IsNullOrWhiteSpace(spec.Name)) errors.Add("name", "is required");
        else if (spec.Name.Length > 200) errors.Add("name", "must be at most 200 characters");
        if (spec.Description is { Length: > 20_000 }) errors.Add("description", "must be at most 20,000 characters");
        if (string.IsNullOrWhiteSpace(spec.Publisher)) errors.Add("publisher", "is required (the publishing team)");
        var kind = spec.Kind ?? ListingKinds.Chat;
        if (!ListingKinds.All.Contains(kind)) errors.Add("kind", $"must be one of {string.Join(", ", ListingKinds.All)}");
        if (spec.Tags is { } tags)
        {
            if (tags.Count > 30) errors.Add("tags", "at most 30 tags");
            for (var i = 0; i < tags.Count; i++)
            {
                if (tags[i] is null || !TagPattern().IsMatch(tags[i])) errors.Add($"tags[{i}]", "must be 1–40 lower-case letters, digits and dashes");
            }
        }
        Check(spec.InputModalities, "inputModalities");
        Check(spec.OutputModalities, "outputModalities");
        void Check(IReadOnlyList<string>? list, string path)
        {
            for (var i = 0; i < (list?.Count ?? 0); i++)
            {
                if (!Modalities.Contains(list![i])) errors.Add($"{path}[{i}]", $"'{list[i]}' is not a modality ({string.Join(", ", Modalities)})");
            }
        }
        if (spec.ContextLength is <= 0) errors.Add("contextLength", "must be positive");
        if (spec.MaxOutputTokens is <= 0) errors.Add("maxOutputTokens", "must be positive");
        CheckPricing(spec.Pricing, "pricing", errors);
        if (spec.Compliance?.MaxDataClassification is { } cls && !Classifications.Contains(cls)) errors.Add("compliance.maxDataClassification", $"must be one of {string.Join(", ", Classifications)}");
        if (spec.Sla?.UptimePercent is < 0 or > 100) errors.Add("sla.uptimePercent", "must be between 0 and 100");
        if (spec.Sla?.P95LatencyMs is <= 0) errors.Add("sla.p95LatencyMs", "must be positive");

        // Business rules
        if (spec.ContextLength is { } ctx && spec.MaxOutputTokens is { } max && max > ctx) errors.Add("maxOutputTokens", $"must not exceed contextLength ({ctx})");
        var deployments = spec.Deployments ?? [];
        if (kind is ListingKinds.Chat or ListingKinds.Embedding && deployments.Count == 0) errors.Add("deployments", "a chat or embedding service needs at least one deployment");
        if (kind == ListingKinds.Embedding && spec.OutputModalities is { Count: > 0 } outs && !outs.Contains("embeddings")) errors.Add("outputModalities", "an embedding service outputs 'embeddings'");
        var providerNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < deployments.Count; i++)
        {
            var d = deployments[i];
            var path = $"deployments[{i}]";
            if (d is null)
            {
                errors.Add(path, "must be an object");
                continue;
            }
            if (string.IsNullOrWhiteSpace(d.Provider)) errors.Add($"{path}.provider", "is required");
            else if (!providerNames.Add(d.Provider + "/" + d.UpstreamModel)) errors.Add($"{path}.provider", "the same provider and upstream model appear twice");
            if (d.Type is not null && !ProviderTypes.Contains(d.Type)) errors.Add($"{path}.type", $"must be one of {string.Join(", ", ProviderTypes)}");
            if (string.IsNullOrWhiteSpace(d.UpstreamModel) && kind is ListingKinds.Chat or ListingKinds.Embedding) errors.Add($"{path}.upstreamModel", "is required");
            CheckPricing(d.Pricing, $"{path}.pricing", errors);
            if (string.IsNullOrWhiteSpace(d.BaseUrl)) errors.Add($"{path}.baseUrl", "is required");
            else CheckEndpoint(d.BaseUrl, $"{path}.baseUrl", options, errors);
            if (d.ApiKey is not null && !(d.ApiKey.StartsWith(SecretReference.EnvPrefix, StringComparison.Ordinal) && d.ApiKey.Length > 4)
                && SecretReference.StoredSecretName(d.ApiKey) is null)
            {
                errors.Add($"{path}.apiKey", "must be a secret reference ('secret:NAME' for the secret store, or 'env:NAME'), never the key itself");
            }
        }
        if (kind == ListingKinds.OpenApi && string.IsNullOrWhiteSpace(spec.OpenApi)) errors.Add("openApi", "an OpenAPI service needs its OpenAPI 3.0/3.1 document");
        if (!string.IsNullOrWhiteSpace(spec.OpenApi)) CheckOpenApi(spec.OpenApi, errors);

        // Security: no credentials in free text or links
        CheckText(spec.Name, "name", errors);
        CheckText(spec.Description, "description", errors);
        CheckText(spec.Documentation, "documentation", errors);
        foreach (var (key, url) in spec.Links ?? new Dictionary<string, string>())
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var u) || u.Scheme is not ("https" or "http")) errors.Add($"links.{key}", "must be an absolute http(s) URL");
            else if (!string.IsNullOrEmpty(u.UserInfo) || SecretQuery().IsMatch(u.Query.TrimStart('?'))) errors.Add($"links.{key}", "must not carry credentials");
        }
    }

    private static void CheckPricing(ListingPricing? p, string path, ValidationErrors errors)
    {
        if (p is null) return;
        if (p.InputPerMTok is < 0) errors.Add($"{path}.inputPerMTok", "must not be negative");
        if (p.OutputPerMTok is < 0) errors.Add($"{path}.outputPerMTok", "must not be negative");
        if (p.CachedInputPerMTok is < 0) errors.Add($"{path}.cachedInputPerMTok", "must not be negative");
        if (p.CacheWritePerMTok is < 0) errors.Add($"{path}.cacheWritePerMTok", "must not be negative");
        if (p.PerRequest is < 0) errors.Add($"{path}.perRequest", "must not be negative");
        if (p.PerSearchUnit is < 0) errors.Add($"{path}.perSearchUnit", "must not be negative");
        if (p.PerImage is < 0) errors.Add($"{path}.perImage", "must not be negative");
        if (p.PerMinute is < 0) errors.Add($"{path}.perMinute", "must not be negative");
        if (p.PerMCharacters is < 0) errors.Add($"{path}.perMCharacters", "must not be negative");
    }

    private static void CheckText(string? text, string path, ValidationErrors errors)
    {
        if (text is not null && SecretPattern().IsMatch(text)) errors.Add(path, "looks like it contains a credential (API key, token or private key); remove it");
    }

    /// <summary>https only (http to loopback in development), no credentials in the URL, no private or link-local address literals unless allowed.</summary>
    public static void CheckEndpoint(string url, string path, CatalogOptions options, ValidationErrors errors)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
        {
            errors.Add(path, "must be an absolute https URL");
            return;
        }
        if (!string.IsNullOrEmpty(uri.UserInfo)) errors.Add(path, "must not carry credentials; use apiKey with an 'env:NAME' reference");
        if (SecretQuery().IsMatch(uri.Query.TrimStart('?'))) errors.Add(path, "must not carry credentials in its query string");
        var loopback = uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip0) && IPAddress.IsLoopback(ip0));
        if (loopback && !options.AllowLoopbackEndpoints) errors.Add(path, "loopback endpoints are allowed only with the development setting Catalog:AllowLoopbackEndpoints");
        else if (uri.Scheme == "http" && !loopback) errors.Add(path, "must use https");
        if (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && !IPAddress.IsLoopback(ip) && OutboundAddressPolicy.IsPrivateOrLinkLocal(ip) && !options.AllowPrivateEndpoints)
        {
            errors.Add(path, "private and link-local addresses are not allowed (Catalog:AllowPrivateEndpoints)");
        }
    }

    /// <summary>Parses the document with Microsoft.OpenApi's reader (OpenAPI 3.0 and 3.1, JSON) and reports its diagnostics with JSON paths.</summary>
    private static void CheckOpenApi(string document, ValidationErrors errors)
    {
        var trimmed = document.TrimStart();
        if (!trimmed.StartsWith('{'))
        {
            errors.Add("openApi", "send the OpenAPI document as JSON text");
            return;
        }
        try
        {
            var result = OpenApiDocument.Parse(document, OpenApiConstants.Json, new OpenApiReaderSettings());
            var diagnostic = result.Diagnostic;
            foreach (var e in diagnostic?.Errors ?? [])
            {
                errors.Add(string.IsNullOrEmpty(e.Pointer) ? "openApi" : "openApi" + e.Pointer.TrimStart('#').Replace('/', '.'), e.Message);
            }
            if (diagnostic is { Errors.Count: 0 })
            {
                if (diagnostic.SpecificationVersion is not (OpenApiSpecVersion.OpenApi3_0 or OpenApiSpecVersion.OpenApi3_1))
                {
                    errors.Add("openApi", "must be an OpenAPI 3.0 or 3.1 document");
                }
                var doc = result.Document;
                if (doc?.Paths is null || doc.Paths.Count == 0) errors.Add("openApi.paths", "the document describes no operations");
                foreach (var server in doc?.Servers ?? [])
                {
                    if (Uri.TryCreate(server.Url, UriKind.Absolute, out var u) && !string.IsNullOrEmpty(u.UserInfo)) errors.Add("openApi.servers", "server URLs must not carry credentials");
                }
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            errors.Add("openApi", "could not be read as an OpenAPI document: " + ex.Message);
        }
    }
}
