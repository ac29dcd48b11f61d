using System.Collections.Concurrent;
using System.Diagnostics;

namespace LlmMarketplace.Access.Tests.Infrastructure;

/// <summary>One replica as a real process (the built <c>llm-marketplace serve</c>) with its own port and data directory, to kill with SIGKILL and start again.</summary>
public sealed class ReplicaProcess(string config, string data, string masterKey, IReadOnlyDictionary<string, string> environment) : IAsyncDisposable
{
    private Process? _process;

    public Uri BaseAddress { get; private set; } = null!;

    public string DataDirectory => data;

    public ConcurrentQueue<string> Output { get; } = new();

    public async Task StartAsync()
    {
        var port = TestPaths.FreePort();
        BaseAddress = new Uri($"http://127.0.0.1:{port}/");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "llm-marketplace.dll"));
        foreach (var a in new[] { "serve", "--urls", $"http://127.0.0.1:{port}", "--config", config, "--data", data }) info.ArgumentList.Add(a);
        foreach (var key in info.Environment.Keys.Where(static k => k.StartsWith("LLMM_", StringComparison.Ordinal)).ToList()) info.Environment.Remove(key);
        info.Environment["LLMM_MASTER_KEY"] = masterKey;
        foreach (var (k, v) in environment) info.Environment[k] = v;
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) Output.Enqueue(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Output.Enqueue(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Wait.UntilAnswersAsync(_process, new Uri(BaseAddress, "health/ready"), () => string.Join('\n', Output), TimeSpan.FromSeconds(90));
    }

    /// <summary>SIGKILL: no shutdown, no flush.</summary>
    public async Task KillAsync()
    {
        if (_process is null) return;
        _process.Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync() => await KillAsync();
}
