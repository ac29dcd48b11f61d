using System.Diagnostics;

namespace LlmMarketplace.Host.Tests.Hosting;

/// <summary>The real <c>llm-marketplace</c> program: configuration validated at start, every error reported with its path.</summary>
public sealed class CommandLineTests
{
    internal static async Task<(int ExitCode, string Output)> RunAsync(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "llm-marketplace.dll"));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var key in info.Environment.Keys.Where(static k => k.StartsWith("LLMM_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(key);
        }
        if (environment is not null)
        {
            foreach (var (k, v) in environment) info.Environment[k] = v;
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await Wait.ForAsync(process.WaitForExitAsync(), TimeSpan.FromSeconds(60), "llm-marketplace to exit");
        return (process.ExitCode, await stdout + await stderr);
    }

    private static string TempFile(string name, string content)
    {
        var dir = TestPaths.NewDirectory();
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public async Task Every_configuration_error_is_reported_at_once_with_its_path()
    {
        var config = TempFile("bad.yaml", """
            Providers:
              - Name: p
                Type: foo
                BaseUrl: not-a-url
                ApiKey: sk-live-literal-secret
            Models:
              - Name: m
                Routing: fastest
                Deployments:
                  - Provider: missing
                    InputPerMTok: -1
                    Colour: blue
            """);

        var (exit, output) = await RunAsync(null, "config", "check", "--config", config, "--data", Path.GetDirectoryName(config)!);

        Assert.Equal(2, exit);
        Assert.Contains("Providers[0].Type", output, StringComparison.Ordinal);
        Assert.Contains("Providers[0].BaseUrl", output, StringComparison.Ordinal);
        Assert.Contains("Providers[0].ApiKey", output, StringComparison.Ordinal);
        Assert.Contains("Models[0].Routing", output, StringComparison.Ordinal);
        Assert.Contains("Models[0].Deployments[0].Provider", output, StringComparison.Ordinal);
        Assert.Contains("Models[0].Deployments[0].InputPerMTok", output, StringComparison.Ordinal);
        Assert.Contains("Models[0].Deployments[0].Colour", output, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-live-literal-secret", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_misspelled_section_or_setting_is_an_error_with_the_nearest_known_name()
    {
        var config = TempFile("typo.yaml", """
            Storge:
              Provider: postgres
            Access:
              TimeZon: Europe/Paris
            Insights:
              Alerts:
                ErrorRateTreshold: 0.1
              Events:
                ToRedisStream: true
            Shield:
              Defaults:
                Pi: redact
            Models:
              - Name: m
                Routng: cost
                Deployments: []
            """);
        var data = Path.GetDirectoryName(config)!;

        var check = await RunAsync(new Dictionary<string, string> { ["LLMM__GOVERNANCE__REFRESHSECOND"] = "5" }, "config", "check", "--config", config, "--data", data);
        var serve = await RunAsync(null, "serve", "--config", config, "--data", data, "--urls", "http://127.0.0.1:0");
        var migrate = await RunAsync(null, "migrate", "--config", config, "--data", data);

        Assert.Equal(2, check.ExitCode);
        Assert.Contains("Storge: is not a known section; did you mean 'Storage'?", check.Output, StringComparison.Ordinal);
        Assert.Contains("Access.TimeZon: is not a known setting; did you mean 'TimeZone'?", check.Output, StringComparison.Ordinal);
        Assert.Contains("Insights.Alerts.ErrorRateTreshold: is not a known setting; did you mean 'ErrorRateThreshold'?", check.Output, StringComparison.Ordinal);
        Assert.Contains("Shield.Defaults.Pi: is not a known setting; did you mean 'Pii'?", check.Output, StringComparison.Ordinal);
        // A value the options compute from the settings is not a setting itself: it could never be set.
        Assert.Contains("Insights.Events.ToRedisStream: is not a known setting", check.Output, StringComparison.Ordinal);
        Assert.Contains("Governance.REFRESHSECOND: is not a known setting; did you mean 'RefreshSeconds'?", check.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("The configuration is valid", check.Output, StringComparison.Ordinal);
        // The program does not start on a configuration it does not fully understand, and migrate refuses it too.
        Assert.Equal(2, serve.ExitCode);
        Assert.Contains("did you mean 'Storage'?", serve.Output, StringComparison.Ordinal);
        Assert.Equal(2, migrate.ExitCode);
        Assert.Contains("did you mean 'Storage'?", migrate.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(data, "llm-marketplace.db")), "nothing may be written for a refused configuration");
    }

    [Fact]
    public async Task A_misspelled_gateway_setting_is_reported_with_the_other_problems_of_its_section()
    {
        var config = TempFile("gw.yaml", """
            Gateway:
              Cache:
                Enabeld: true
            Models:
              - Name: m
                Routng: cost
                Deployments:
                  - Provider: nowhere
            """);

        var (exit, output) = await RunAsync(null, "config", "check", "--config", config, "--data", Path.GetDirectoryName(config)!);

        Assert.Equal(2, exit);
        Assert.Contains("Gateway.Cache.Enabeld: is not a known setting; did you mean 'Enabled'?", output, StringComparison.Ordinal);
        Assert.Contains("Models[0].Routng: is not a known setting; did you mean 'Routing'?", output, StringComparison.Ordinal);
        Assert.Contains("Models[0].Deployments[0].Provider", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_configuration_and_environment_overrides_are_read()
    {
        var config = TempFile("good.json", """
            {
              "Providers": [ { "Name": "p", "Type": "openai", "BaseUrl": "http://127.0.0.1:9/v1", "ApiKey": "env:LLMM_TEST_PROVIDER_KEY" } ],
              "Models": [ { "Name": "m", "Deployments": [ { "Provider": "p", "Model": "x" } ] } ]
            }
            """);
        var data = Path.GetDirectoryName(config)!;

        var ok = await RunAsync(new Dictionary<string, string> { ["LLMM_TEST_PROVIDER_KEY"] = "secret" }, "config", "check", "--config", config, "--data", data);
        var missingSecret = await RunAsync(null, "config", "check", "--config", config, "--data", data);
        var overridden = await RunAsync(new Dictionary<string, string> { ["LLMM_TEST_PROVIDER_KEY"] = "secret", ["LLMM__MODELS__0__ROUTING"] = "sideways" }, "config", "check", "--config", config, "--data", data);

        Assert.True(ok.ExitCode == 0, ok.Output);
        Assert.Equal(2, missingSecret.ExitCode);
        Assert.Contains("LLMM_TEST_PROVIDER_KEY", missingSecret.Output, StringComparison.Ordinal);
        Assert.Equal(2, overridden.ExitCode);
        Assert.Contains("Models[0].Routing", overridden.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrate_creates_the_embedded_database_in_the_data_directory()
    {
        var config = TempFile("c.yaml", "Models: []\n");
        var data = Path.Combine(Path.GetDirectoryName(config)!, "data");

        var first = await RunAsync(null, "migrate", "--config", config, "--data", data);
        var second = await RunAsync(null, "migrate", "--config", config, "--data", data);

        Assert.True(first.ExitCode == 0, first.Output);
        Assert.True(File.Exists(Path.Combine(data, "llm-marketplace.db")));
        Assert.Contains("applied", first.Output, StringComparison.Ordinal);
        Assert.Contains("up to date", second.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Config_check_writes_nothing()
    {
        var data = Path.Combine(Path.GetTempPath(), "llmm-tests", Guid.NewGuid().ToString("N"), "data");

        var (exit, output) = await RunAsync(null, "config", "check", "--data", data);

        Assert.True(exit == 0, output);
        Assert.False(Directory.Exists(data), "config check created the data directory: " + string.Join(", ", Directory.Exists(data) ? Directory.GetFiles(data) : []));
    }

    [Fact]
    public async Task A_missing_config_file_is_a_clear_error()
    {
        var (exit, output) = await RunAsync(null, "config", "check", "--config", "/nonexistent/llmm.yaml");

        Assert.Equal(2, exit);
        Assert.Contains("does not exist", output, StringComparison.Ordinal);
    }
}
