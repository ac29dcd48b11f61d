using System.Net.Sockets;

namespace LlmMarketplace.TestKit;

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

    /// <summary>A new empty directory of a test's own, under <c>llmm-tests</c> in the temporary folder.</summary>
    public static string NewDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "llmm-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
