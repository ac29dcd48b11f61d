using System.Diagnostics;
using System.Net.Sockets;

namespace LlmMarketplace.TestKit;

/// <summary>
/// The Redis the test script starts (<c>LLMM_TEST_REDIS</c>). A test that needs it never skips: without the variable it
/// fails and says how to get it. Tests share it, each under keys of its own.
/// </summary>
public static class TestRedis
{
    public const string Variable = "LLMM_TEST_REDIS";

    /// <summary>Its <c>host:port</c>.</summary>
    public static string Configuration => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException(
            $"{Variable} is not set: this test needs the host:port of a Redis. Run the tests with scripts/test.sh, which starts Redis and sets it.");

    /// <summary>A key prefix no other test uses.</summary>
    public static string UniquePrefix() => "t" + Guid.NewGuid().ToString("N")[..12] + ":";
}

/// <summary>
/// A Redis server of a test's own (the <c>redis-server</c> on PATH, from the Debian package the test script installs) on a
/// free loopback port, for tests that stop and restart it.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "llmm-tests", "redis-" + Guid.NewGuid().ToString("N"));
    private Process? _process;

    private readonly string[] _extra;

    private RedisServer(int port, string[] extra)
    {
        Port = port;
        _extra = extra;
    }

    public int Port { get; }

    public string Configuration => $"127.0.0.1:{Port}";

    /// <summary>Starts one; <paramref name="extra"/> are further arguments of redis-server (e.g. to run it as a cluster node).</summary>
    public static async Task<RedisServer> StartAsync(params string[] extra)
    {
        var server = new RedisServer(TestPaths.FreePort(), extra);
        Directory.CreateDirectory(server._directory);
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>Starts the server (again) on its port and waits until it accepts connections.</summary>
    public async Task StartAgainAsync()
    {
        var info = new ProcessStartInfo("redis-server")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _directory,
        };
        string[] args = ["--bind", "127.0.0.1", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--save", "", "--appendonly", "no", "--dir", _directory, .. _extra];
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("redis-server is not on PATH: install the Debian package redis-server (scripts/test.sh does).", ex);
        }
        _process = process;
        process.OutputDataReceived += static (_, _) => { };
        process.ErrorDataReceived += static (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await Wait.UntilAsync(async () =>
        {
            if (process.HasExited) throw new InvalidOperationException($"redis-server exited with {process.ExitCode} before listening on port {Port}.");
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", Port);
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(20), $"redis-server to listen on port {Port}");
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
