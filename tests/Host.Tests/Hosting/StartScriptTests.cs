using System.Diagnostics;

namespace LlmMarketplace.Host.Tests.Hosting;

/// <summary>The README's first command, <c>scripts/start.sh</c>, run as a newcomer would (from another directory).</summary>
public sealed class StartScriptTests
{
    [Fact]
    public async Task The_start_script_serves_the_quickstart_and_answers_a_chat_call()
    {
        var port = TestPaths.FreePort();
        var data = Path.Combine(Path.GetTempPath(), "llmm-tests", "start-" + Guid.NewGuid().ToString("N"));
        var masterKey = "mk-" + Guid.NewGuid().ToString("N");
        var info = new ProcessStartInfo("bash")
        {
            WorkingDirectory = Path.GetTempPath(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(TestPaths.RepositoryRoot, "scripts", "start.sh"));
        foreach (var key in info.Environment.Keys.Where(static k => k.StartsWith("LLMM_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(key);
        }
        info.Environment["LLMM_URLS"] = $"http://127.0.0.1:{port}";
        info.Environment["LLMM_DATA"] = data;
        info.Environment["LLMM_MASTER_KEY"] = masterKey;

        var output = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        Assert.True(process.Start());
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            // The script builds and starts the host first: wait until it listens (or gives up).
            await Wait.UntilAsync(() => process.HasExited || Listening(port), TimeSpan.FromMinutes(4), "start.sh to serve");
            Assert.False(process.HasExited, "start.sh exited: " + Output());

            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
            {
                Content = JsonContent.Create(new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "hello from the readme" } } }),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", masterKey);
            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"chat answered {(int)response.StatusCode}: {body}");
            var json = JsonDocument.Parse(body).RootElement;
            Assert.Equal("hello from the readme", json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
            Assert.True(File.Exists(Path.Combine(data, "llm-marketplace.db")), "the embedded database is not in the data directory given");
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }

        string Output()
        {
            lock (output) return output.ToString();
        }
    }

    private static bool Listening(int port)
    {
        try
        {
            using var client = new System.Net.Sockets.TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }
}
