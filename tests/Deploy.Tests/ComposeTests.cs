using YamlDotNet.RepresentationModel;

namespace LlmMarketplace.Deploy.Tests;

/// <summary>deploy/compose.yaml parses and wires replicas, a load balancer, healthy dependencies and a one-off migration.</summary>
public sealed class ComposeTests
{
    [Fact]
    public void The_compose_file_names_its_services_and_health_conditions()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path.Combine(Tools.RepositoryRoot, "deploy", "compose.yaml"))));
        var services = (YamlMappingNode)((YamlMappingNode)stream.Documents[0].RootNode)["services"];
        YamlMappingNode Service(string name) => (YamlMappingNode)services[name];

        Assert.Equal(["postgres", "redis", "migrate", "gateway", "lb"], services.Children.Keys.Select(static k => k.ToString()));
        Assert.True(Service("postgres").Children.ContainsKey("healthcheck"));
        Assert.True(Service("redis").Children.ContainsKey("healthcheck"));
        Assert.Equal("migrate", ((YamlSequenceNode)Service("migrate")["command"])[0].ToString());

        var gateway = Service("gateway");
        Assert.True(int.Parse(((YamlMappingNode)gateway["deploy"])["replicas"].ToString(), System.Globalization.CultureInfo.InvariantCulture) >= 2);
        var dependsOn = (YamlMappingNode)gateway["depends_on"];
        Assert.Equal("service_healthy", ((YamlMappingNode)dependsOn["postgres"])["condition"].ToString());
        Assert.Equal("service_healthy", ((YamlMappingNode)dependsOn["redis"])["condition"].ToString());
        Assert.Equal("service_completed_successfully", ((YamlMappingNode)dependsOn["migrate"])["condition"].ToString());
        Assert.Equal(".env", ((YamlSequenceNode)gateway["env_file"])[0].ToString());
        // Every replica reads the same root key, which compose requires from the env file (the replicas' settings are
        // the x-gateway-env block, merged into the service's environment).
        Assert.True(((YamlMappingNode)gateway["environment"]).Children.ContainsKey("<<"));
        var environment = (YamlMappingNode)((YamlMappingNode)stream.Documents[0].RootNode)["x-gateway-env"];
        Assert.Equal("env:LLMM_ENCRYPTION_KEY", environment["LLMM__SECURITY__ENCRYPTIONKEY"].ToString());
        Assert.StartsWith("${LLMM_ENCRYPTION_KEY:?", environment["LLMM_ENCRYPTION_KEY"].ToString(), StringComparison.Ordinal);
        Assert.Contains("LLMM_ENCRYPTION_KEY=", File.ReadAllLines(Path.Combine(Tools.RepositoryRoot, "deploy", "env.example")));

        // No secret is written into the file: every password is a variable from the env file.
        var text = File.ReadAllText(Path.Combine(Tools.RepositoryRoot, "deploy", "compose.yaml"));
        Assert.Contains("${POSTGRES_PASSWORD:?", text, StringComparison.Ordinal);
        Assert.DoesNotContain("deploy/.env", File.ReadAllText(Path.Combine(Tools.RepositoryRoot, "deploy", "env.example")).Split('\n').Where(static l => !l.StartsWith('#')), StringComparer.Ordinal);
        Assert.Contains("deploy/.env", File.ReadAllLines(Path.Combine(Tools.RepositoryRoot, ".gitignore")));
    }
}
