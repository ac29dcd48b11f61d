namespace LlmMarketplace.Access.Tests.Infrastructure;

/// <summary>
/// The lifecycle the Access HTTP tests share: an OpenAI-compatible upstream that reports <c>usage</c> on every call and the
/// real host in front of it (<see cref="AccessTestKit.Config"/>), on the storage of <see cref="Provider"/>. A subclass that
/// overrides <see cref="Provider"/> with <c>postgres</c> runs every test again on a fresh PostgreSQL database.
/// </summary>
public abstract class AccessHostTests(Usage usage) : IAsyncLifetime
{
    private IAsyncDisposable? _storage;

    /// <summary>The storage the tests run on: SQLite, or <c>postgres</c>.</summary>
    protected virtual string Provider => "sqlite";

    protected FakeUpstream Upstream { get; private set; } = null!;

    protected GatewayHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Upstream = await OpenAIUpstreamAsync(usage);
        Host = await GatewayHost.StartAsync(Config(Upstream.BaseUrl + "/v1"), await StorageAsync());
    }

    private async Task<Dictionary<string, string?>?> StorageAsync()
    {
        if (Provider == "sqlite") return null;
        var storage = await TestStorage.CreateAsync(Provider);
        _storage = storage;
        storage.Overrides.Remove("Storage:DataDirectory");
        return storage.Overrides;
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await Upstream.DisposeAsync();
        if (_storage is not null) await _storage.DisposeAsync();
    }
}
