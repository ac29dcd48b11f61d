using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.TestKit;

/// <summary>
/// The lifecycle many HTTP test classes share: a fake upstream answering with <see cref="AnswerAsync"/> and the real host
/// configured against it (<see cref="HostConfig"/>), started before each test and stopped after it.
/// </summary>
public abstract class UpstreamHostTests : IAsyncLifetime
{
    protected FakeUpstream Upstream { get; private set; } = null!;

    protected GatewayHost Host { get; private set; } = null!;

    /// <summary>How the upstream answers a request (the int is its 0-based index).</summary>
    protected abstract Task AnswerAsync(HttpContext context, int index);

    /// <summary>The host's configuration (YAML) given the upstream's base URL (<c>http://127.0.0.1:PORT</c>).</summary>
    protected abstract string HostConfig(string upstreamBaseUrl);

    public async Task InitializeAsync()
    {
        Upstream = await FakeUpstream.StartAsync(AnswerAsync);
        Host = await GatewayHost.StartAsync(HostConfig(Upstream.BaseUrl));
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await Upstream.DisposeAsync();
    }
}
