using System.Collections.Concurrent;
using System.Diagnostics;

namespace LlmMarketplace.Access.Tests.Metering;

/// <summary>The real program under load, killed with SIGKILL and restarted: every call that got a 200 has exactly one usage record.</summary>
public sealed class CrashTests
{
    private sealed class Program(string config, string data, string masterKey) : IAsyncDisposable
    {
        /// <summary>A program of its own: <paramref name="yaml"/> as its config file in a fresh directory, its data beside it, a new master key.</summary>
        public static async Task<Program> CreateAsync(string yaml)
        {
            var dir = TestPaths.NewDirectory();
            var configFile = Path.Combine(dir, "config.yaml");
            await File.WriteAllTextAsync(configFile, yaml);
            return new Program(configFile, Path.Combine(dir, "data"), "mk-" + Guid.NewGuid().ToString("N"));
        }

        public string MasterKey => masterKey;

        public Process? Process { get; private set; }

        public Uri BaseAddress { get; private set; } = null!;

        public ConcurrentQueue<string> Output { get; } = new();

        public async Task<int> RunCliAsync(params string[] args)
        {
            using var process = System.Diagnostics.Process.Start(Info(args))!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await Wait.ForAsync(process.WaitForExitAsync(), TimeSpan.FromSeconds(60), "the command to exit");
            Output.Enqueue(await stdout);
            Output.Enqueue(await stderr);
            return process.ExitCode;
        }

        public async Task StartAsync()
        {
            var port = TestPaths.FreePort();
            BaseAddress = new Uri($"http://127.0.0.1:{port}/");
            Process = System.Diagnostics.Process.Start(Info(["serve", "--urls", $"http://127.0.0.1:{port}"]))!;
            Process.OutputDataReceived += (_, e) => { if (e.Data is not null) Output.Enqueue(e.Data); };
            Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Output.Enqueue(e.Data); };
            Process.BeginOutputReadLine();
            Process.BeginErrorReadLine();
            await Wait.UntilAnswersAsync(Process, new Uri(BaseAddress, "health/ready"), () => string.Join('\n', Output), TimeSpan.FromSeconds(60));
        }

        public async Task KillAsync()
        {
            Process!.Kill(); // SIGKILL: no shutdown, no flush
            await Process.WaitForExitAsync();
            Process.Dispose();
            Process = null;
        }

        private ProcessStartInfo Info(IEnumerable<string> args)
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "llm-marketplace.dll"));
            foreach (var a in args) info.ArgumentList.Add(a);
            info.ArgumentList.Add("--config");
            info.ArgumentList.Add(config);
            info.ArgumentList.Add("--data");
            info.ArgumentList.Add(data);
            foreach (var key in info.Environment.Keys.Where(static k => k.StartsWith("LLMM_", StringComparison.Ordinal)).ToList()) info.Environment.Remove(key);
            info.Environment["LLMM_MASTER_KEY"] = masterKey;
            return info;
        }

        public async ValueTask DisposeAsync()
        {
            if (Process is { HasExited: false } p)
            {
                p.Kill();
                await p.WaitForExitAsync();
            }
            Process?.Dispose();
        }
    }

    /// <summary>The JSON object the command printed (log lines may precede it).</summary>
    private static string JsonOf(IEnumerable<string> output)
    {
        var text = string.Join('\n', output);
        var start = text.IndexOf("\n{", StringComparison.Ordinal) is var i and >= 0 ? i + 1 : text.IndexOf('{', StringComparison.Ordinal);
        return text[start..(text.LastIndexOf('}') + 1)];
    }

    [Fact]
    public async Task Every_200_has_exactly_one_usage_record_after_SIGKILL_and_restart()
    {
        await using var upstream = await OpenAIUpstreamAsync(new Usage(20, 10));
        await using var program = await Program.CreateAsync(Config(upstream.BaseUrl + "/v1"));

        // The key comes from the command line, on the same storage.
        Assert.Equal(0, await program.RunCliAsync("keys", "create", "--name", "crash-load", "--team", "crash", "--create-team"));
        var created = JsonDocument.Parse(JsonOf(program.Output)).RootElement;
        var keyId = created.GetProperty("id").GetString()!;
        var secret = created.GetProperty("key").GetString()!;

        await program.StartAsync();
        var answered = new ConcurrentBag<string>();
        using var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, 6).Select(w => Task.Run(async () =>
        {
            using var client = new HttpClient { BaseAddress = program.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var id = $"crash-{w}-{i}-{Guid.NewGuid():N}";
                try
                {
                    using var response = await ChatAsync(client, stream: i % 3 == 0, requestId: id);
                    var body = await response.Content.ReadAsStringAsync();
                    // A streamed 200 counts once the stream ended with [DONE]: an answer the client got in full.
                    if (response.StatusCode == HttpStatusCode.OK && (i % 3 != 0 || body.Contains("[DONE]", StringComparison.Ordinal))) answered.Add(id);
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
                {
                    return; // the server is gone
                }
            }
        })).ToArray();

        await Wait.UntilAsync(() => answered.Count >= 150, TimeSpan.FromSeconds(120), "150 answered calls under load");
        await program.KillAsync();
        await stop.CancelAsync();
        await Task.WhenAll(workers);
        var got200 = answered.ToHashSet(StringComparer.Ordinal);

        await program.StartAsync();
        using var admin = new HttpClient { BaseAddress = program.BaseAddress };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", program.MasterKey);
        // Records the database could not take before the kill (busy under load) were kept in the local spool; the
        // restarted program delivers them in the background, so the check waits for that delivery, not longer.
        var recorded = new List<string>();
        var missing = got200.ToList();
        try
        {
            await Wait.UntilAsync(async () =>
            {
                var page = JsonDocument.Parse(await admin.GetStringAsync($"api/v1/usage?keyId={keyId}&limit=10000")).RootElement;
                recorded = page.GetProperty("data").EnumerateArray().Select(static u => u.GetProperty("requestId").GetString()!).ToList();
                missing = got200.Where(id => !recorded.Contains(id, StringComparer.Ordinal)).ToList();
                return missing.Count == 0;
            }, TimeSpan.FromSeconds(30), "a usage record for every answered call");
        }
        catch (TimeoutException ex)
        {
            Assert.Fail($"{missing.Count} of {got200.Count} answered calls have no usage record ({recorded.Count} recorded), e.g. {missing.FirstOrDefault()}: {ex.Message}\n"
                + string.Join('\n', program.Output.TakeLast(40)));
        }
        Assert.Equal(recorded.Count, recorded.Distinct(StringComparer.Ordinal).Count());

        // And the restarted server still knows the key (loaded into memory at start).
        using var client = new HttpClient { BaseAddress = program.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        using var after = await ChatAsync(client);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task The_keys_command_creates_lists_and_revokes_on_the_configured_storage()
    {
        await using var upstream = await OpenAIUpstreamAsync(new Usage(1, 1));
        await using var program = await Program.CreateAsync(Config(upstream.BaseUrl + "/v1"));

        Assert.Equal(0, await program.RunCliAsync("keys", "create", "--name", "cli-key", "--rpm", "60", "--model", "gpt-4o-mini"));
        var created = JsonDocument.Parse(JsonOf(program.Output)).RootElement;
        var id = created.GetProperty("id").GetString()!;
        Assert.StartsWith("llmm-", created.GetProperty("key").GetString(), StringComparison.Ordinal);
        program.Output.Clear();

        Assert.Equal(0, await program.RunCliAsync("keys", "list"));
        var listing = string.Join('\n', program.Output);
        Assert.Contains(id, listing, StringComparison.Ordinal);
        Assert.DoesNotContain(created.GetProperty("key").GetString()!, listing, StringComparison.Ordinal);
        program.Output.Clear();

        Assert.Equal(0, await program.RunCliAsync("keys", "revoke", id));
        Assert.Equal(1, await program.RunCliAsync("keys", "revoke", "key_nope"));
        program.Output.Clear();
        Assert.Equal(0, await program.RunCliAsync("keys", "list", "--all"));
        Assert.Contains("revoked", string.Join('\n', program.Output), StringComparison.Ordinal);

        Assert.Equal(1, await program.RunCliAsync("keys", "create", "--name", "bad", "--rpm", "0", "--model", "nope"));
        var errors = string.Join('\n', program.Output);
        Assert.Contains("rpm", errors, StringComparison.Ordinal);
        Assert.Contains("models[0]", errors, StringComparison.Ordinal);
        program.Output.Clear();

        // Mistyped values are named in words, without a .NET type name or the whole help text.
        Assert.NotEqual(0, await program.RunCliAsync("keys", "create", "--name", "typo", "--rpm", "lots", "--budget-usd", "ten", "--expires-at", "soon"));
        var typo = string.Join('\n', program.Output);
        Assert.Contains("--rpm: 'lots' is not a whole number", typo, StringComparison.Ordinal);
        Assert.Contains("--budget-usd: 'ten' is not an amount", typo, StringComparison.Ordinal);
        Assert.Contains("--expires-at: 'soon' is not a date and time", typo, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", typo, StringComparison.Ordinal);
        Assert.DoesNotContain("Usage:", typo, StringComparison.Ordinal);
        program.Output.Clear();

        // An unknown team is refused unless the command asks for it to be created; listings show names, not ids.
        Assert.Equal(1, await program.RunCliAsync("keys", "create", "--name", "teamed", "--team", "platfrom"));
        Assert.Contains("Unknown team 'platfrom'", string.Join('\n', program.Output), StringComparison.Ordinal);
        program.Output.Clear();
        Assert.Equal(0, await program.RunCliAsync("keys", "create", "--name", "teamed", "--team", "platform", "--create-team"));
        var teamId = JsonDocument.Parse(JsonOf(program.Output)).RootElement.GetProperty("team").GetString()!;
        program.Output.Clear();
        Assert.Equal(0, await program.RunCliAsync("keys", "list"));
        var named = program.Output.SelectMany(static o => o.Split('\n')).Single(static l => l.StartsWith("teamed ", StringComparison.Ordinal));
        Assert.Contains(" platform ", named, StringComparison.Ordinal);
        Assert.DoesNotContain(teamId, named, StringComparison.Ordinal);
        program.Output.Clear();

        // The commands left their audit entries (actor "cli"), without the secret, on an intact chain.
        await program.StartAsync();
        using var admin = new HttpClient { BaseAddress = program.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", program.MasterKey);
        var audit = await GetJsonAsync(admin, $"api/v1/audit?targetId={id}&order=asc");
        var entries = audit.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["key.created", "key.revoked"], entries.Select(static e => e.GetProperty("action").GetString()!).ToArray());
        Assert.All(entries, static e => Assert.Equal("cli", e.GetProperty("actorId").GetString()));
        Assert.DoesNotContain(created.GetProperty("key").GetString()!, audit.GetRawText(), StringComparison.Ordinal);
        Assert.True((await GetJsonAsync(admin, "api/v1/audit/verify")).GetProperty("intact").GetBoolean());
    }
}
