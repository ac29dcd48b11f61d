using System.Net;
using LlmMarketplace.BuildingBlocks.Validation;
using Microsoft.AspNetCore.HttpOverrides;

namespace LlmMarketplace.Host.Hosting;

/// <summary>The <c>Https</c> section: what the program does when it serves HTTPS itself.</summary>
public sealed record HttpsOptions
{
    public const string SectionName = "Https";

    /// <summary>Redirects plain HTTP requests to the HTTPS endpoint (307, method kept); health probes are never redirected.</summary>
    public bool Redirect { get; init; } = true;

    /// <summary>HSTS max-age in days on HTTPS responses; 0 sends no HSTS header.</summary>
    public int HstsMaxAgeDays { get; init; } = 365;

    public bool HstsIncludeSubDomains { get; init; }

    public bool HstsPreload { get; init; }
}

/// <summary>The <c>ForwardedHeaders</c> section: trusting a TLS-terminating proxy or load balancer in front of the program.</summary>
public sealed record ForwardedHeadersSettings
{
    public const string SectionName = "ForwardedHeaders";

    /// <summary>Reads <c>X-Forwarded-For</c> and <c>X-Forwarded-Proto</c> from trusted proxies.</summary>
    public bool Enabled { get; init; }

    /// <summary>Proxy addresses trusted to set the headers; with neither this nor <see cref="KnownNetworks"/>, only loopback is trusted.</summary>
    public IReadOnlyList<string> KnownProxies { get; init; } = [];

    /// <summary>Networks (CIDR, e.g. <c>10.0.0.0/8</c>) whose addresses are trusted proxies.</summary>
    public IReadOnlyList<string> KnownNetworks { get; init; } = [];

    /// <summary>How many proxies' entries are read from the end of <c>X-Forwarded-For</c>.</summary>
    public int ForwardLimit { get; init; } = 1;
}

/// <summary>HTTPS redirection and HSTS when the program serves HTTPS, and forwarded headers behind a proxy.</summary>
internal static class TransportSecurity
{
    private const string HttpsOnKey = "LlmMarketplace.Host:HttpsOn";

    public static void AddTransportSecurity(this WebApplicationBuilder builder, string urls)
    {
        var errors = new ValidationErrors();
        var https = builder.Configuration.GetSection(HttpsOptions.SectionName).Get<HttpsOptions>() ?? new HttpsOptions();
        if (https.HstsMaxAgeDays < 0) errors.Add("Https.HstsMaxAgeDays", "must be 0 (no HSTS) or more");
        var forwarded = builder.Configuration.GetSection(ForwardedHeadersSettings.SectionName).Get<ForwardedHeadersSettings>() ?? new ForwardedHeadersSettings();
        if (forwarded.ForwardLimit < 1) errors.Add("ForwardedHeaders.ForwardLimit", "must be 1 or more");
        var proxies = new List<IPAddress>();
        for (var i = 0; i < forwarded.KnownProxies.Count; i++)
        {
            if (IPAddress.TryParse(forwarded.KnownProxies[i], out var address)) proxies.Add(address);
            else errors.Add($"ForwardedHeaders.KnownProxies[{i}]", $"'{forwarded.KnownProxies[i]}' is not an IP address");
        }
        var networks = new List<System.Net.IPNetwork>();
        for (var i = 0; i < forwarded.KnownNetworks.Count; i++)
        {
            if (System.Net.IPNetwork.TryParse(forwarded.KnownNetworks[i], out var network)) networks.Add(network);
            else errors.Add($"ForwardedHeaders.KnownNetworks[{i}]", $"'{forwarded.KnownNetworks[i]}' is not a network in CIDR notation (e.g. 10.0.0.0/8)");
        }
        if (errors.Count > 0) throw new InvalidConfigurationException(errors);

        var httpsOn = ServesHttps(builder.Configuration, urls);
        builder.Configuration[HttpsOnKey] = httpsOn ? "true" : "false";
        builder.Services.AddSingleton(https);
        if (httpsOn)
        {
            builder.Services.AddHsts(o =>
            {
                o.MaxAge = TimeSpan.FromDays(https.HstsMaxAgeDays);
                o.IncludeSubDomains = https.HstsIncludeSubDomains;
                o.Preload = https.HstsPreload;
            });
            builder.Services.AddHttpsRedirection(static _ => { });
        }
        if (forwarded.Enabled)
        {
            builder.Services.Configure<ForwardedHeadersOptions>(o =>
            {
                o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
                o.ForwardLimit = forwarded.ForwardLimit;
                if (proxies.Count > 0 || networks.Count > 0)
                {
                    o.KnownProxies.Clear();
                    o.KnownIPNetworks.Clear();
                    foreach (var proxy in proxies) o.KnownProxies.Add(proxy);
                    foreach (var network in networks) o.KnownIPNetworks.Add(network);
                }
            });
        }
        builder.Services.AddSingleton(forwarded);
    }

    /// <summary>Forwarded headers first (so the scheme a proxy saw counts), then redirection and HSTS.</summary>
    public static void UseTransportSecurity(this WebApplication app)
    {
        if (app.Services.GetRequiredService<ForwardedHeadersSettings>().Enabled)
        {
            app.UseForwardedHeaders();
        }
        if (app.Configuration[HttpsOnKey] != "true") return;
        var https = app.Services.GetRequiredService<HttpsOptions>();
        if (https.Redirect)
        {
            // Probes and scrapers inside a cluster often speak plain HTTP to the pod; they get their answer, not a redirect.
            app.UseWhen(static c => !c.Request.Path.StartsWithSegments("/health"), static b => b.UseHttpsRedirection());
        }
        if (https.HstsMaxAgeDays > 0)
        {
            app.UseHsts();
        }
    }

    /// <summary>True when a URL the program listens on (command line, <c>Urls</c> or a Kestrel endpoint) is https.</summary>
    internal static bool ServesHttps(IConfiguration configuration, string urls)
    {
        static bool IsHttps(string? url) => url?.TrimStart().StartsWith("https://", StringComparison.OrdinalIgnoreCase) == true;
        return urls.Split(';', StringSplitOptions.RemoveEmptyEntries).Any(IsHttps)
            || configuration.GetSection("Kestrel:Endpoints").GetChildren().Any(e => IsHttps(e["Url"]));
    }
}
