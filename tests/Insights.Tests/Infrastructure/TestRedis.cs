using System.Diagnostics;
using System.Net.Sockets;
using LlmMarketplace.Gateway.Tests.Infrastructure;

namespace LlmMarketplace.Insights.Tests.Infrastructure;

/// <summary>
/// The Redis of <c>LLMM_TEST_REDIS</c> when set; otherwise a throwaway <c>redis-server</c> on a free loopback port
/// (Debian's <c>redis-server</c> package), stopped on dispose.
/// </summary>
public sealed class TestRedis : IAsyncDisposable
{
    private readonly Process? _process;

    private TestRedis(string configuration, Process? process)
    {
        Configuration = configuration;
        _process = process;
    }

    public string Configuration { get; }

    public static async Task<TestRedis> StartAsync()
    {
        if (Environment.GetEnvironmentVariable("LLMM_TEST_REDIS") is { Length: > 0 } configured) return new TestRedis(configured, null);
        var port = TestPaths.FreePort();
        var process = Process.Start(new ProcessStartInfo("redis-server", ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("redis-server did not start; install the redis-server package or set LLMM_TEST_REDIS.");
        process.OutputDataReceived += static (_, _) => { };
        process.BeginOutputReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port);
                return new TestRedis($"127.0.0.1:{port}", process);
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(20);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is null) return;
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
