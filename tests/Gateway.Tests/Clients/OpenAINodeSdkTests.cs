using System.Diagnostics;

namespace LlmMarketplace.Gateway.Tests.Clients;

/// <summary>The official <c>openai</c> npm package, unchanged but for the base URL, against the gateway.</summary>
public sealed class OpenAINodeSdkTests(MockLlmGatewayFixture fixture) : IClassFixture<MockLlmGatewayFixture>
{
    [Fact]
    public async Task The_node_sdk_chats_streams_calls_tools_embeds_lists_models_and_maps_errors()
    {
        var script = Path.Combine(TestPaths.RepositoryRoot, "tests", "node", "openai-client.mjs");
        var info = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(TestPaths.NodeModules)!,
        };
        info.ArgumentList.Add(script);
        info.Environment["GATEWAY_BASE_URL"] = fixture.Host.OpenAIBase.ToString();
        info.Environment["GATEWAY_API_KEY"] = fixture.Host.MasterKey;
        info.Environment["CHAT_MODEL"] = "gpt-4o-mini";
        info.Environment["EMBED_MODEL"] = "text-embedding-3-small";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await Wait.ForAsync(process.WaitForExitAsync(), TimeSpan.FromSeconds(120), "the node client script");

        var output = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, "node client checks failed:\n" + output);
        Assert.Contains("\"ok\":true", output, StringComparison.Ordinal);
        Assert.DoesNotContain("\"ok\":false", output, StringComparison.Ordinal);
    }
}
