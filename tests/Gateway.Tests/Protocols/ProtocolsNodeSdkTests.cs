using System.Diagnostics;
using LlmMarketplace.Gateway.Tests.Clients;

namespace LlmMarketplace.Gateway.Tests.Protocols;

/// <summary>The official <c>openai</c> (Responses) and <c>@anthropic-ai/sdk</c> (Messages) npm clients against the gateway, mock-llm upstream.</summary>
public sealed class ProtocolsNodeSdkTests(MockLlmGatewayFixture fixture) : IClassFixture<MockLlmGatewayFixture>
{
    [Fact]
    public async Task The_official_node_clients_speak_responses_and_messages()
    {
        var script = Path.Combine(TestPaths.RepositoryRoot, "tests", "node", "protocols-client.mjs");
        var info = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(TestPaths.NodeModules)!,
        };
        info.ArgumentList.Add(script);
        info.Environment["GATEWAY_ORIGIN"] = fixture.Host.BaseAddress.ToString().TrimEnd('/');
        info.Environment["GATEWAY_API_KEY"] = fixture.Host.MasterKey;
        info.Environment["CHAT_MODEL"] = "gpt-4o-mini";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await Wait.ForAsync(process.WaitForExitAsync(), TimeSpan.FromSeconds(120), "the node protocols script");

        var output = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, "node client checks failed:\n" + output);
        foreach (var check in (string[])["responses_plain", "responses_items", "responses_stream", "responses_tool", "responses_previous_and_retrieve",
                     "messages_create", "messages_stream", "messages_tools", "messages_count_tokens", "messages_auth_error"])
        {
            Assert.Contains($"{{\"check\":\"{check}\",\"ok\":true", output, StringComparison.Ordinal);
        }
    }
}
