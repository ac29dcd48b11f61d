using System.ClientModel;
using System.ClientModel.Primitives;
using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using OpenAI;
using OpenAI.Chat;

namespace LlmMarketplace.Deploy.Tests;

/// <summary>The real program serves HTTPS from a PEM certificate made by openssl; the official OpenAI SDK calls it.</summary>
public sealed class HttpsTests
{
    private const string HostName = "gateway.test";

    private static Task<LoopbackServer> StartUpstreamAsync() =>
        LoopbackServer.StartAsync(static app => app.MapPost("/v1/chat/completions", static () => Results.Text("""
            {"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"up-model",
             "choices":[{"index":0,"message":{"role":"assistant","content":"over tls"},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}
            """, "application/json")));

    [Fact]
    public async Task The_program_answers_the_OpenAI_sdk_over_https_and_redirects_http_with_hsts()
    {
        var openssl = Tools.Require("openssl", "openssl");
        var dir = Path.Combine(Path.GetTempPath(), "llmm-https-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var cert = Path.Combine(dir, "cert.pem");
        var key = Path.Combine(dir, "key.pem");
        var made = await Tools.RunAsync(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=" + HostName,
            "-addext", $"subjectAltName=DNS:{HostName}", "-keyout", key, "-out", cert]);
        Assert.True(made.ExitCode == 0, made.Stderr);

        await using var upstream = await StartUpstreamAsync();
        var config = Path.Combine(dir, "llmm.yaml");
        await File.WriteAllTextAsync(config, $"""
            Providers:
              - Name: up
                Type: openai
                BaseUrl: {upstream.BaseUrl}/v1
                ApiKey: env:LLMM_TEST_UPSTREAM_KEY
            Models:
              - Name: tls-model
                Deployments:
                  - Provider: up
                    Model: up-model
            """);
        var httpsPort = TestPaths.FreePort();
        var httpPort = TestPaths.FreePort();
        var masterKey = "mk-" + Guid.NewGuid().ToString("N");
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "llm-marketplace.dll"));
        foreach (var arg in new[] { "serve", "--config", config, "--data", Path.Combine(dir, "data"), "--urls", $"https://127.0.0.1:{httpsPort};http://127.0.0.1:{httpPort}" })
        {
            info.ArgumentList.Add(arg);
        }
        info.Environment["LLMM_MASTER_KEY"] = masterKey;
        info.Environment["LLMM_TEST_UPSTREAM_KEY"] = "sk-upstream";
        info.Environment["LLMM__KESTREL__CERTIFICATES__DEFAULT__PATH"] = cert;
        info.Environment["LLMM__KESTREL__CERTIFICATES__DEFAULT__KEYPATH"] = key;
        using var program = Process.Start(info)!;
        var output = new System.Text.StringBuilder();
        program.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        program.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        program.BeginOutputReadLine();
        program.BeginErrorReadLine();
        try
        {
            // Trust exactly the certificate openssl made, and reach "gateway.test" on loopback.
            using var trusted = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(cert));
            using var handler = new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                UseProxy = false,
                ConnectCallback = async (context, ct) =>
                {
                    var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    await socket.ConnectAsync(IPAddress.Loopback, context.DnsEndPoint.Port, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                },
                SslOptions = new SslClientAuthenticationOptions
                {
                    RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                    {
                        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None) return false;
                        using var chain = new X509Chain();
                        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                        chain.ChainPolicy.CustomTrustStore.Add(trusted);
                        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                        return chain.Build(new X509Certificate2(certificate));
                    },
                },
            };
            using var http = new HttpClient(handler, disposeHandler: false);
            var ready = $"https://{HostName}:{httpsPort}/health/ready";
            await Wait.UntilAsync(async () =>
            {
                Assert.False(program.HasExited, "llm-marketplace exited: " + output);
                try { return (await http.GetAsync(ready)).IsSuccessStatusCode; }
                catch (HttpRequestException) { return false; }
            }, TimeSpan.FromSeconds(90), "the program to answer over HTTPS");

            var client = new ChatClient("tls-model", new ApiKeyCredential(masterKey), new OpenAIClientOptions
            {
                Endpoint = new Uri($"https://{HostName}:{httpsPort}/v1"),
                Transport = new HttpClientPipelineTransport(http),
            });
            ChatCompletion completion = await client.CompleteChatAsync("hello");
            Assert.Equal("over tls", completion.Content[0].Text);

            using var https = await http.GetAsync($"https://{HostName}:{httpsPort}/v1/models");
            Assert.StartsWith("max-age=", https.Headers.GetValues("Strict-Transport-Security").Single(), StringComparison.Ordinal);

            using var plain = await http.GetAsync($"http://{HostName}:{httpPort}/v1/models");
            Assert.Equal(HttpStatusCode.TemporaryRedirect, plain.StatusCode);
            Assert.Equal($"https://{HostName}:{httpsPort}/v1/models", plain.Headers.Location!.ToString());
            using var probe = await http.GetAsync($"http://{HostName}:{httpPort}/health/live");
            Assert.Equal(HttpStatusCode.OK, probe.StatusCode);
        }
        finally
        {
            if (!program.HasExited) program.Kill(entireProcessTree: true);
            await program.WaitForExitAsync();
        }
    }
}
