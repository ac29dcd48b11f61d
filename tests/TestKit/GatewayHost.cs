using LlmMarketplace.Host.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace LlmMarketplace.TestKit;

/// <summary>The real product host on a loopback port, with its own data directory and a master key.</summary>
public sealed class GatewayHost : IAsyncDisposable
{
    private readonly string _dataDirectory;
    private StorageUnderTest? _storage;

    private GatewayHost(WebApplication app, string dataDirectory, string masterKey)
    {
        App = app;
        _dataDirectory = dataDirectory;
        MasterKey = masterKey;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.TrimEnd('/') + "/");
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        Client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", masterKey);
    }

    public WebApplication App { get; }

    public Uri BaseAddress { get; }

    /// <summary>The OpenAI base URL clients use: <c>http://127.0.0.1:PORT/v1</c>.</summary>
    public Uri OpenAIBase => new(BaseAddress, "v1");

    public string MasterKey { get; }

    /// <summary>The configuration file the host reads (and reloads when it changes).</summary>
    public string ConfigFile => Path.Combine(_dataDirectory, "config.yaml");

    /// <summary>A client that sends the master key.</summary>
    public HttpClient Client { get; }

    public T Service<T>() where T : notnull => App.Services.GetRequiredService<T>();

    /// <summary>Starts the host with a YAML configuration (the text of the file).</summary>
    public static async Task<GatewayHost> StartAsync(string yaml, IReadOnlyDictionary<string, string?>? overrides = null, Action<IServiceCollection>? configureServices = null)
    {
        // Hosts on one database must share a root key, as an installation's replicas do (a host with another key refuses
        // to start): unless a test sets one of its own, or null for the key file in the data directory, every host of
        // the test run gets the run's key.
        if (overrides is null || !overrides.ContainsKey(RootKeySetting))
        {
            overrides = new Dictionary<string, string?>(overrides ?? new Dictionary<string, string?>()) { [RootKeySetting] = RunRootKey.Value };
        }
        var dataDirectory = TestPaths.NewDirectory();
        var configFile = Path.Combine(dataDirectory, "config.yaml");
        await File.WriteAllTextAsync(configFile, yaml);
        var masterKey = "mk-" + Guid.NewGuid().ToString("N");
        var settings = new HostSettings
        {
            ConfigFile = configFile,
            DataDirectory = dataDirectory,
            Urls = "http://127.0.0.1:0",
            Overrides = overrides,
            MasterKey = masterKey,
            ConfigureServices = configureServices,
        };
        var app = MarketplaceApp.Build(settings);
        await app.StartAsync();
        return new GatewayHost(app, dataDirectory, masterKey);
    }

    public const string RootKeySetting = "Security:EncryptionKey";

    /// <summary>A reference to the root key every host of this test run shares unless a test sets its own.</summary>
    public static readonly Lazy<string> RunRootKey = new(NewRootKey);

    /// <summary>A new random root key in an environment variable of its own; returns the reference that names it (<c>env:...</c>).</summary>
    public static string NewRootKey()
    {
        var variable = "LLMM_TEST_KEY_" + Guid.NewGuid().ToString("N")[..12];
        Environment.SetEnvironmentVariable(variable, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
        return "env:" + variable;
    }

    /// <summary>
    /// Starts the host on a fresh storage of <paramref name="provider"/> (<see cref="TestStorage"/>) with
    /// <paramref name="overrides"/> on top; the host owns the storage and drops it when disposed.
    /// </summary>
    public static async Task<GatewayHost> StartOnAsync(string provider, string yaml, IReadOnlyDictionary<string, string?>? overrides = null, Action<IServiceCollection>? configureServices = null)
    {
        var storage = await TestStorage.CreateAsync(provider);
        try
        {
            foreach (var (key, value) in overrides ?? new Dictionary<string, string?>()) storage.Overrides[key] = value;
            var host = await StartAsync(yaml, storage.Overrides, configureServices);
            host._storage = storage;
            return host;
        }
        catch
        {
            await storage.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // SQLite may still hold the file briefly on some systems; the temp directory is disposable.
        }
        if (_storage is not null) await _storage.DisposeAsync();
    }
}
