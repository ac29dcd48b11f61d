using System.Net.Http.Json;
using System.Text.Json;
using LlmMarketplace.TestKit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmMarketplace.Gateway.Tests.Foundations;

/// <summary>
/// The gateway's models are a reloading snapshot like every module's: an edited configuration file takes effect on the
/// running host without a restart, and one that does not validate is refused while the last valid one keeps serving.
/// </summary>
public sealed class ConfigurationReloadTests
{
    private static string Config(params string[] models) => "Providers:\n  - Name: upstream\n    Type: openai\n    BaseUrl: http://127.0.0.1:9/v1\nModels:\n"
        + string.Concat(models.Select(static m => $"  - Name: {m}\n    Deployments:\n      - Provider: upstream\n        Model: up\n"));

    [Fact]
    public async Task An_edited_configuration_file_is_applied_and_a_broken_one_refused_while_the_last_valid_one_serves()
    {
        var logs = new LogCapture();
        await using var host = await GatewayHost.StartAsync(Config("first-model"), configureServices: services => services.AddSingleton<ILoggerProvider>(logs));
        Assert.Equal(["first-model"], await ModelsAsync(host));

        await File.WriteAllTextAsync(host.ConfigFile, Config("first-model", "second-model"));
        await Wait.UntilAsync(async () => (await ModelsAsync(host)).Contains("second-model"), TimeSpan.FromSeconds(30), "the added model to be listed");
        Assert.Contains(logs.Entries, static e => e.Message.StartsWith("Gateway configuration loaded: 1 providers, 2 models", StringComparison.Ordinal));

        // A deployment on a provider that does not exist: the change is refused with the reason, and nothing changes.
        await File.WriteAllTextAsync(host.ConfigFile, Config("first-model") + "  - Name: broken-model\n    Deployments:\n      - Provider: nowhere\n        Model: up\n");
        await Wait.UntilAsync(() => logs.Entries.Any(static e => e.Level == LogLevel.Error && e.Message.StartsWith("Configuration change rejected", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), "the broken configuration to be refused");
        Assert.Contains(logs.Entries, static e => e.Message.Contains("nowhere", StringComparison.Ordinal) && e.Message.StartsWith("Configuration change rejected", StringComparison.Ordinal));
        Assert.Equal(["first-model", "second-model"], await ModelsAsync(host));
    }

    private static async Task<List<string>> ModelsAsync(GatewayHost host)
    {
        using var document = JsonDocument.Parse(await host.Client.GetStringAsync(new Uri("v1/models", UriKind.Relative)));
        return [.. document.RootElement.GetProperty("data").EnumerateArray().Select(static m => m.GetProperty("id").GetString()!).Order(StringComparer.Ordinal)];
    }
}
