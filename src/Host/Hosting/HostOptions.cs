namespace LlmMarketplace.Host.Hosting;

/// <summary>What the command line says about where the product runs.</summary>
public sealed record HostSettings
{
    /// <summary>A JSON or YAML configuration file.</summary>
    public string? ConfigFile { get; init; }

    /// <summary>Kestrel URLs, e.g. <c>http://127.0.0.1:8080</c>.</summary>
    public string? Urls { get; init; }

    /// <summary>The data directory (the embedded database lives here).</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Settings that override everything else (used by tests and embedding hosts).</summary>
    public IReadOnlyDictionary<string, string?>? Overrides { get; init; }

    /// <summary>The bootstrap admin credential; null reads <c>LLMM_MASTER_KEY</c> from the environment.</summary>
    public string? MasterKey { get; init; }

    /// <summary>Registers services before the modules do (tests use it to inject a fake clock); modules register with TryAdd.</summary>
    public Action<IServiceCollection>? ConfigureServices { get; init; }

    public string[] Args { get; init; } = [];
}
