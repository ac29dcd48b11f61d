using System.Diagnostics;

namespace LlmMarketplace.Deploy.Tests;

/// <summary>Runs the external tools the deployment files are checked with (kubectl, promtool, node, openssl).</summary>
internal static class Tools
{
    public static string RepositoryRoot { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LlmMarketplace.slnx"))) return dir.FullName;
        }
        throw new InvalidOperationException("LlmMarketplace.slnx not found above the test's directory");
    }

    /// <summary>The full path of a program on PATH; fails (never skips) when it is not installed.</summary>
    public static string Require(string program, string debianPackage)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var path = Path.Combine(dir, program);
            if (File.Exists(path)) return path;
        }
        Assert.Fail($"'{program}' is not on PATH: install the Debian package '{debianPackage}' (scripts/test.sh does)");
        return "";
    }

    public static string NodeDirectory()
    {
        var modules = Environment.GetEnvironmentVariable("LLMM_TEST_NODE_MODULES");
        Assert.False(string.IsNullOrEmpty(modules), "LLMM_TEST_NODE_MODULES is not set (scripts/test.sh sets it)");
        return Path.GetDirectoryName(Path.GetFullPath(modules!.TrimEnd('/')))!;
    }

    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string program, IEnumerable<string> args, string? stdin = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardInput = stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = RepositoryRoot,
        };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var name in info.Environment.Keys.Where(static k => k.StartsWith("LLMM_", StringComparison.Ordinal) && !k.StartsWith("LLMM_TEST_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }
        if (environment is not null)
        {
            foreach (var (k, v) in environment) info.Environment[k] = v;
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }
        await Wait.ForAsync(process.WaitForExitAsync(), TimeSpan.FromSeconds(120), $"{Path.GetFileName(program)} to exit");
        return (process.ExitCode, await stdout, await stderr);
    }
}
