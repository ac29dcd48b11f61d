using System.Diagnostics;
using System.Net.Sockets;
using LlmMarketplace.Gateway.Tests.Infrastructure;
using Npgsql;

namespace LlmMarketplace.Access.Tests.Infrastructure;

/// <summary>
/// What distributed tests run on: the PostgreSQL and Redis that the test script starts (<c>LLMM_TEST_POSTGRES</c>,
/// <c>LLMM_TEST_REDIS</c>), a fresh database and key prefix per test, and Redis servers of their own to stop and restart.
/// These tests never skip: without the servers they fail and say how to get them.
/// </summary>
public static class DistributedKit
{
    public static string Postgres => Require("LLMM_TEST_POSTGRES", "a PostgreSQL connection string");

    public static string Redis => Require("LLMM_TEST_REDIS", "the host:port of a Redis");

    private static string Require(string variable, string what) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{variable} is not set: this distributed test needs {what}. Run the tests with scripts/test.sh, which starts PostgreSQL and Redis and sets it.");

    /// <summary>Shared state for several replicas: a new PostgreSQL database and a Redis key prefix of their own.</summary>
    public static async Task<SharedState> CreateSharedAsync(string? redis = null)
    {
        var admin = Postgres;
        var redisConfiguration = redis ?? Redis;
        var name = "llmm_dist_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        var cs = new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
        return new SharedState(admin, name, cs, redisConfiguration, "t" + Guid.NewGuid().ToString("N")[..12] + ":");
    }

    public sealed class SharedState(string admin, string database, string connectionString, string redis, string prefix) : IAsyncDisposable
    {
        public string ConnectionString { get; } = connectionString;

        public string Redis { get; } = redis;

        public string KeyPrefix { get; } = prefix;

        /// <summary>Host overrides: PostgreSQL, Redis, and no periodic refresh to lean on (changes must arrive by message).</summary>
        public Dictionary<string, string?> Overrides(IReadOnlyDictionary<string, string?>? extra = null)
        {
            var overrides = new Dictionary<string, string?>
            {
                ["Storage:Provider"] = "postgres",
                ["Storage:ConnectionString"] = ConnectionString,
                ["Redis:Configuration"] = Redis,
                ["Redis:KeyPrefix"] = KeyPrefix,
                ["Access:RefreshInterval"] = "00:10:00",
            };
            if (extra is not null) foreach (var (k, v) in extra) overrides[k] = v;
            return overrides;
        }

        public async ValueTask DisposeAsync()
        {
            NpgsqlConnection.ClearAllPools();
            await using var connection = new NpgsqlConnection(admin);
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }
    }

    /// <summary>Starts <paramref name="count"/> in-process replicas on their own ports and data directories, sharing <paramref name="shared"/>.</summary>
    public static async Task<GatewayHost[]> StartReplicasAsync(int count, string config, SharedState shared, IReadOnlyDictionary<string, string?>? extra = null)
    {
        var replicas = new GatewayHost[count];
        // The first one migrates the database; the others start on it together.
        replicas[0] = await GatewayHost.StartAsync(config, shared.Overrides(extra));
        var rest = await Task.WhenAll(Enumerable.Range(1, count - 1).Select(_ => GatewayHost.StartAsync(config, shared.Overrides(extra))));
        rest.CopyTo(replicas, 1);
        return replicas;
    }
}

/// <summary>A Redis server of a test's own (from the <c>redis-server</c> on PATH), to stop and restart on the same port.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "llmm-tests", "redis-" + Guid.NewGuid().ToString("N"));
    private Process? _process;

    private RedisServer(int port) => Port = port;

    public int Port { get; }

    public string Configuration => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        var server = new RedisServer(TestPaths.FreePort());
        Directory.CreateDirectory(server._directory);
        await server.StartAgainAsync();
        return server;
    }

    public async Task StartAgainAsync()
    {
        var info = new ProcessStartInfo("redis-server")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _directory,
        };
        foreach (var arg in new[] { "--bind", "127.0.0.1", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--save", "", "--appendonly", "no", "--dir", _directory })
        {
            info.ArgumentList.Add(arg);
        }
        try
        {
            _process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("redis-server is not on PATH: install the Debian package redis-server (scripts/test.sh does).", ex);
        }
        _process.OutputDataReceived += static (_, _) => { };
        _process.ErrorDataReceived += static (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
                await Task.Delay(20);
            }
        }
    }

    /// <summary>Kills the server (SIGKILL: no goodbye to the clients) and waits until it is gone.</summary>
    public async Task StopAsync()
    {
        if (_process is null) return;
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try { Directory.Delete(_directory, true); } catch (IOException) { }
    }
}
