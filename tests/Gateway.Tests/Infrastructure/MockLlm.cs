using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace LlmMarketplace.Gateway.Tests.Infrastructure;

/// <summary>Where the repository and its test dependencies are.</summary>
public static class TestPaths
{
    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LlmMarketplace.slnx")))
            {
                dir = dir.Parent;
            }
            return dir?.FullName ?? throw new InvalidOperationException("The repository root (LlmMarketplace.slnx) was not found above the test binaries.");
        }
    }

    /// <summary>The npm packages the tests use (installed by scripts/test.sh).</summary>
    public static string NodeModules
    {
        get
        {
            var fromEnv = Environment.GetEnvironmentVariable("LLMM_TEST_NODE_MODULES");
            var path = string.IsNullOrEmpty(fromEnv) ? Path.Combine(RepositoryRoot, "tests", "node", "node_modules") : fromEnv;
            if (!Directory.Exists(Path.Combine(path, "@dwmkerr", "mock-llm")))
            {
                throw new InvalidOperationException($"The npm test packages are not installed in '{path}': run scripts/test.sh (or 'npm ci' in tests/node).");
            }
            return path;
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>The third-party OpenAI-compatible mock server (<c>@dwmkerr/mock-llm</c>) as a real process on loopback.</summary>
public sealed class MockLlm : IAsyncLifetime
{
    private Process? _process;

    public int Port { get; private set; }

    /// <summary><c>http://127.0.0.1:PORT/v1</c>.</summary>
    public string BaseUrl => $"http://127.0.0.1:{Port}/v1";

    public async Task InitializeAsync()
    {
        var modules = TestPaths.NodeModules;
        var config = Path.Combine(TestPaths.RepositoryRoot, "tests", "node", "mock-llm.yaml");
        for (var attempt = 0; attempt < 3; attempt++)
        {
            Port = TestPaths.FreePort();
            var info = new ProcessStartInfo("node")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = Path.GetDirectoryName(modules)!,
            };
            info.ArgumentList.Add(Path.Combine(modules, "@dwmkerr", "mock-llm", "dist", "main.js"));
            if (File.Exists(config))
            {
                info.ArgumentList.Add("--config");
                info.ArgumentList.Add(config);
            }
            info.Environment["PORT"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            info.Environment["HOST"] = "127.0.0.1";
            _process = Process.Start(info)!;
            _process.OutputDataReceived += static (_, _) => { };
            _process.ErrorDataReceived += static (_, _) => { };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (DateTime.UtcNow < deadline && !_process.HasExited)
            {
                try
                {
                    using var response = await http.GetAsync($"http://127.0.0.1:{Port}/health");
                    if (response.IsSuccessStatusCode) return;
                }
                catch (HttpRequestException)
                {
                }
                await Task.Delay(50);
            }
            await DisposeAsync();
        }
        throw new InvalidOperationException("mock-llm did not start.");
    }

    public Task DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        _process?.Dispose();
        _process = null;
        return Task.CompletedTask;
    }
}
