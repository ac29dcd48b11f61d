namespace LlmMarketplace.Deploy.Tests;

/// <summary><c>migrate</c> needs only storage settings; <c>config check</c> keeps checking everything.</summary>
public sealed class MigrateCommandTests
{
    [Fact]
    public async Task Migrate_runs_without_the_provider_keys_that_config_check_requires()
    {
        var dir = Path.Combine(Path.GetTempPath(), "llmm-migrate-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var config = Path.Combine(dir, "llmm.yaml");
        await File.WriteAllTextAsync(config, """
            Providers:
              - Name: p
                Type: openai
                BaseUrl: http://127.0.0.1:9/v1
                ApiKey: env:LLMM_TEST_UNSET_PROVIDER_KEY
            Models:
              - Name: m
                Deployments:
                  - Provider: p
                    Model: x
            """);
        var dll = Path.Combine(AppContext.BaseDirectory, "llm-marketplace.dll");
        var data = Path.Combine(dir, "data");

        var migrate = await Tools.RunAsync("dotnet", [dll, "migrate", "--config", config, "--data", data]);
        var check = await Tools.RunAsync("dotnet", [dll, "config", "check", "--config", config, "--data", data]);
        var badStorage = await Tools.RunAsync("dotnet", [dll, "migrate", "--config", config, "--data", data],
            environment: new Dictionary<string, string> { ["LLMM__STORAGE__PROVIDER"] = "postgres" });

        Assert.True(migrate.ExitCode == 0, migrate.Stdout + migrate.Stderr);
        Assert.True(File.Exists(Path.Combine(data, "llm-marketplace.db")));
        Assert.Equal(2, check.ExitCode);
        Assert.Contains("LLMM_TEST_UNSET_PROVIDER_KEY", check.Stderr, StringComparison.Ordinal);
        Assert.NotEqual(0, badStorage.ExitCode);
        Assert.Contains("Storage:ConnectionString", badStorage.Stderr, StringComparison.Ordinal);
    }
}
