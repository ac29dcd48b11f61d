using System.Diagnostics;
using Npgsql;

namespace LlmMarketplace.Access.Tests.Infrastructure;

/// <summary>
/// A PostgreSQL cluster of a test's own (initdb, pg_ctl from the Debian packages the test script installs) on a
/// loopback port, to stop and start again under a running gateway. As root it runs as the <c>postgres</c> user.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "llmm-tests", "pg-" + Guid.NewGuid().ToString("N"));
    private readonly string _bin;
    private bool _running;

    private PostgresServer(string bin, int port)
    {
        _bin = bin;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Timeout=3;Pooling=true";

    public static async Task<PostgresServer> StartAsync()
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(static d => Path.Combine(d, "bin"))
                .Where(static d => File.Exists(Path.Combine(d, "initdb")))
                .OrderBy(static d => d, StringComparer.Ordinal).LastOrDefault()
            : null;
        if (bin is null)
        {
            throw new InvalidOperationException("No PostgreSQL server programs (initdb, pg_ctl): install the Debian package postgresql-15 (scripts/test.sh does).");
        }
        var server = new PostgresServer(bin, TestPaths.FreePort());
        Directory.CreateDirectory(server._directory);
        if (Environment.IsPrivilegedProcess)
        {
            await RunAsync("chown", ["postgres:", server._directory], asPostgres: false);
        }
        await server.RunAsync("initdb", ["-D", server.Data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"]);
        await server.StartAgainAsync();
        return server;
    }

    private string Data => Path.Combine(_directory, "data");

    public async Task StartAgainAsync()
    {
        await RunAsync("pg_ctl", ["-D", Data, "-l", Path.Combine(_directory, "server.log"), "-w", "-t", "60", "-o",
            $"-c listen_addresses=127.0.0.1 -p {Port} -c unix_socket_directories={_directory} -c fsync=off -c max_connections=100", "start"]);
        _running = true;
    }

    /// <summary>Stops the server the hard way (immediate: no checkpoint, connections cut) and waits until it is down.</summary>
    public async Task StopAsync()
    {
        if (!_running) return;
        await RunAsync("pg_ctl", ["-D", Data, "-m", "immediate", "-w", "-t", "60", "stop"]);
        _running = false;
        NpgsqlConnection.ClearAllPools();
    }

    private Task RunAsync(string program, IEnumerable<string> args) => RunAsync(Path.Combine(_bin, program), args, asPostgres: true);

    private static async Task RunAsync(string program, IEnumerable<string> args, bool asPostgres)
    {
        var info = asPostgres && Environment.IsPrivilegedProcess ? new ProcessStartInfo("runuser") : new ProcessStartInfo(program);
        if (asPostgres && Environment.IsPrivilegedProcess)
        {
            foreach (var a in new[] { "-u", "postgres", "--", program }) info.ArgumentList.Add(a);
        }
        foreach (var a in args) info.ArgumentList.Add(a);
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await Wait.ForAsync(process.WaitForExitAsync(), TimeSpan.FromSeconds(90), $"{Path.GetFileName(program)} to finish");
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(program)} exited with {process.ExitCode}: {await stdout}{await stderr}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            try { Directory.Delete(_directory, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
