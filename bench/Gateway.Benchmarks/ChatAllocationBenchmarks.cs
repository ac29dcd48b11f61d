using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using LlmMarketplace.Host.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace LlmMarketplace.Gateway.Benchmarks;

/// <summary>
/// Bytes allocated per chat completion by the real host (every module, embedded SQLite, metering on) in this process,
/// against <see cref="LoopbackUpstream"/> over loopback HTTP: with the master key, and with an API key that has request
/// and token limits and a USD budget. <c>Direct</c> is the peer: the same client calling the upstream itself, so the
/// gateway's own share is a row minus <c>Direct</c>. The memory diagnoser counts every thread of the process (the
/// client, Kestrel, the usage writer), which is what a request costs; the timings of this job are not the point and
/// mean little on a busy machine (bench/gateway measures latency). Each operation is a burst of
/// <see cref="Concurrency"/> requests; the figures are per request.
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
[Config(typeof(AllocationConfig))]
public class ChatAllocationBenchmarks
{
    private static readonly byte[] Request =
        """{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in one short sentence."}]}"""u8.ToArray();

    private static readonly byte[] StreamRequest =
        """{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in one short sentence."}]}"""u8.ToArray();

    private static readonly MediaTypeHeaderValue Json = new("application/json");

    private LoopbackUpstream _upstream = null!;
    private WebApplication _host = null!;
    private string _dataDirectory = null!;
    private HttpMessageInvoker _client = null!;
    private Uri _direct = null!;
    private Uri _gateway = null!;
    private AuthenticationHeaderValue _masterKey = null!;
    private AuthenticationHeaderValue _apiKey = null!;

    private sealed class AllocationConfig : ManualConfig
    {
        public AllocationConfig()
        {
            // In process: the host is started once in setup, and the shared build machine saves a rebuild.
            AddJob(Job.Default.WithWarmupCount(3).WithIterationCount(8).WithToolchain(InProcessEmitToolchain.Instance));
        }
    }

    /// <summary>Whether the client asks for a streamed answer (server-sent events).</summary>
    [Params(false, true)]
    public bool Stream { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _upstream = await LoopbackUpstream.StartAsync();
        _dataDirectory = Path.Combine(Path.GetTempPath(), "llmm-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dataDirectory);
        var config = Path.Combine(_dataDirectory, "config.yaml");
        await File.WriteAllTextAsync(config, $"""
            Providers:
              - Name: upstream
                Type: openai
                BaseUrl: {_upstream.BaseUrl}/v1
            Models:
              - Name: gpt-4o-mini
                Deployments:
                  - Provider: upstream
                    Model: up
                    InputPerMTok: 0.15
                    OutputPerMTok: 0.60
            """);
        var masterKey = "mk-" + Guid.NewGuid().ToString("N");
        _host = MarketplaceApp.Build(new HostSettings
        {
            ConfigFile = config,
            DataDirectory = _dataDirectory,
            Urls = "http://127.0.0.1:0",
            MasterKey = masterKey,
            Overrides = new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Warning" },
        });
        await _host.StartAsync();
        var address = _host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        _direct = new Uri(_upstream.BaseUrl + "/v1/chat/completions");
        _gateway = new Uri(address + "/v1/chat/completions");
        _masterKey = new AuthenticationHeaderValue("Bearer", masterKey);
        _client = new HttpMessageInvoker(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false });

        // A consumer key with limits that never refuse here, a budget far from used up, and metering (always on).
        using var create = new HttpRequestMessage(HttpMethod.Post, address + "/api/v1/keys")
        {
            Content = new StringContent("""{"name":"bench","rpm":1000000000,"tpm":1000000000000,"budgetUsd":1000000,"budgetPeriod":"monthly"}""", System.Text.Encoding.UTF8, "application/json"),
        };
        create.Headers.Authorization = _masterKey;
        using var created = await _client.SendAsync(create, CancellationToken.None);
        var body = await created.Content.ReadAsStringAsync();
        if (created.StatusCode != HttpStatusCode.Created) throw new InvalidOperationException($"Creating the API key answered {(int)created.StatusCode}: {body}");
        _apiKey = new AuthenticationHeaderValue("Bearer", JsonDocument.Parse(body).RootElement.GetProperty("key").GetString());

        // Every path answers before it is measured.
        await DirectAsync();
        await MasterKeyAsync();
        await ApiKeyAsync();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        _client.Dispose();
        await _host.StopAsync();
        await _host.DisposeAsync();
        await _upstream.DisposeAsync();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // the temp directory is disposable
        }
    }

    /// <summary>
    /// Requests in flight at once in one operation. The modules' background work (the usage rollup folds at most every
    /// 250 ms) costs per interval, not per request: with requests one at a time on a busy machine it would dominate
    /// and move with the machine's speed; with a burst it is shared by many requests, as under load.
    /// </summary>
    public const int Concurrency = 32;

    [Benchmark(Baseline = true, Description = "Direct (client + upstream)", OperationsPerInvoke = Concurrency)]
    public Task DirectAsync() => BurstAsync(_direct, null);

    [Benchmark(Description = "Master key", OperationsPerInvoke = Concurrency)]
    public Task MasterKeyAsync() => BurstAsync(_gateway, _masterKey);

    [Benchmark(Description = "API key (limits, budget)", OperationsPerInvoke = Concurrency)]
    public Task ApiKeyAsync() => BurstAsync(_gateway, _apiKey);

    private Task BurstAsync(Uri uri, AuthenticationHeaderValue? authorization)
    {
        var calls = new Task[Concurrency];
        for (var i = 0; i < calls.Length; i++) calls[i] = CallAsync(uri, authorization);
        return Task.WhenAll(calls);
    }

    private async Task CallAsync(Uri uri, AuthenticationHeaderValue? authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(Stream ? StreamRequest : Request) };
        request.Content.Headers.ContentType = Json;
        request.Headers.Authorization = authorization;
        using var response = await _client.SendAsync(request, CancellationToken.None);
        await using var body = await response.Content.ReadAsStreamAsync();
        await body.CopyToAsync(System.IO.Stream.Null);
        if (response.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"{uri} answered {(int)response.StatusCode}.");
    }
}
