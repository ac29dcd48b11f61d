using System.Diagnostics;

namespace LlmMarketplace.TestKit;

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
            try
            {
                await Wait.UntilAnswersAsync(_process, new Uri($"http://127.0.0.1:{Port}/health"), static () => "", TimeSpan.FromSeconds(20));
                return;
            }
            catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
            {
                // another process took the port, or it started slowly: try again on a new port
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
