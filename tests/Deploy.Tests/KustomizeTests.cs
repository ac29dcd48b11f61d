using YamlDotNet.RepresentationModel;

namespace LlmMarketplace.Deploy.Tests;

/// <summary>Both kustomize overlays render with kubectl and every object validates against the Kubernetes schemas.</summary>
public sealed class KustomizeTests
{
    private static async Task<List<YamlMappingNode>> RenderAndValidateAsync(string overlay)
    {
        var kubectl = Tools.Require("kubectl", "kubectl");
        var render = await Tools.RunAsync(kubectl, ["kustomize", Path.Combine("deploy", "kubernetes", "overlays", overlay)]);
        Assert.True(render.ExitCode == 0, render.Stderr);

        var node = Tools.Require("node", "nodejs");
        var validate = await Tools.RunAsync(node, [Path.Combine(Tools.NodeDirectory(), "validate-kubernetes.mjs")], stdin: render.Stdout);
        Assert.True(validate.ExitCode == 0, validate.Stdout + validate.Stderr);

        var stream = new YamlStream();
        stream.Load(new StringReader(render.Stdout));
        var objects = stream.Documents.Select(static d => (YamlMappingNode)d.RootNode).ToList();
        Assert.Equal(objects.Count, validate.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(static l => l.StartsWith("ok ", StringComparison.Ordinal)));
        return objects;
    }

    private static YamlMappingNode Single(List<YamlMappingNode> objects, string kind) =>
        Assert.Single(objects, o => o["kind"].ToString() == kind);

    private static YamlNode At(YamlNode node, params object[] path)
    {
        foreach (var step in path)
        {
            node = step is int i ? ((YamlSequenceNode)node)[i] : ((YamlMappingNode)node)[(string)step];
        }
        return node;
    }

    [Fact]
    public async Task The_embedded_overlay_is_one_replica_on_a_volume_claim_recreated_on_update()
    {
        var objects = await RenderAndValidateAsync("embedded");

        var deployment = Single(objects, "Deployment");
        Assert.Equal("1", At(deployment, "spec", "replicas").ToString());
        Assert.Equal("Recreate", At(deployment, "spec", "strategy", "type").ToString());
        var claim = Single(objects, "PersistentVolumeClaim");
        var volumes = (YamlSequenceNode)At(deployment, "spec", "template", "spec", "volumes");
        Assert.Contains(volumes, v => ((YamlMappingNode)v).Children.TryGetValue("persistentVolumeClaim", out var pvc)
            && At(pvc, "claimName").ToString() == At(claim, "metadata", "name").ToString());
        AssertHardenedPod(deployment);
    }

    [Fact]
    public async Task The_distributed_overlay_scales_migrates_and_takes_secrets_from_secret_refs()
    {
        var objects = await RenderAndValidateAsync("distributed");

        foreach (var kind in new[] { "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Job", "Service", "Ingress", "NetworkPolicy", "ServiceAccount" })
        {
            Single(objects, kind);
        }
        var deployment = Single(objects, "Deployment");
        Assert.True(int.Parse(At(deployment, "spec", "replicas").ToString(), System.Globalization.CultureInfo.InvariantCulture) >= 2);
        Assert.True(int.Parse(At(Single(objects, "HorizontalPodAutoscaler"), "spec", "minReplicas").ToString(), System.Globalization.CultureInfo.InvariantCulture) >= 2);
        Assert.NotNull(At(Single(objects, "Ingress"), "spec", "tls", 0, "secretName"));
        AssertHardenedPod(deployment);

        var container = At(deployment, "spec", "template", "spec", "containers", 0);
        var env = ((YamlSequenceNode)At(container, "env")).Cast<YamlMappingNode>().ToDictionary(static e => e["name"].ToString());
        foreach (var name in new[] { "LLMM_MASTER_KEY", "LLMM__STORAGE__CONNECTIONSTRING", "LLMM__REDIS__CONFIGURATION", "LLMM_ENCRYPTION_KEY" })
        {
            Assert.True(env.TryGetValue(name, out var variable), name);
            Assert.NotNull(At(variable, "valueFrom", "secretKeyRef", "key"));
        }
        // Every pod reads the same root key from the Secret, not a key of its own in its emptyDir.
        Assert.Equal("env:LLMM_ENCRYPTION_KEY", At(env["LLMM__SECURITY__ENCRYPTIONKEY"], "value").ToString());
        Assert.Equal("postgres", At(env["LLMM__STORAGE__PROVIDER"], "value").ToString());

        // The migration job holds the database credentials and nothing else.
        var job = At(Single(objects, "Job"), "spec", "template", "spec", "containers", 0);
        Assert.Equal("migrate", At(job, "args", 0).ToString());
        var jobEnv = ((YamlSequenceNode)At(job, "env")).Select(static e => At(e, "name").ToString()).ToList();
        Assert.Contains("LLMM__STORAGE__CONNECTIONSTRING", jobEnv);
        Assert.DoesNotContain("LLMM_MASTER_KEY", jobEnv);

        // The disruption budget and the network policy select the gateway's pods.
        var podLabels = (YamlMappingNode)At(deployment, "spec", "template", "metadata", "labels");
        foreach (var selector in new[] { At(Single(objects, "PodDisruptionBudget"), "spec", "selector", "matchLabels"), At(Single(objects, "NetworkPolicy"), "spec", "podSelector", "matchLabels") })
        {
            foreach (var (key, value) in ((YamlMappingNode)selector).Children)
            {
                Assert.Equal(value.ToString(), podLabels[key].ToString());
            }
        }
    }

    private static void AssertHardenedPod(YamlMappingNode deployment)
    {
        var pod = At(deployment, "spec", "template", "spec");
        Assert.Equal("true", At(pod, "securityContext", "runAsNonRoot").ToString());
        var container = At(pod, "containers", 0);
        Assert.Equal("false", At(container, "securityContext", "allowPrivilegeEscalation").ToString());
        Assert.Equal("true", At(container, "securityContext", "readOnlyRootFilesystem").ToString());
        Assert.Equal("/health/live", At(container, "livenessProbe", "httpGet", "path").ToString());
        Assert.Equal("/health/ready", At(container, "readinessProbe", "httpGet", "path").ToString());
        Assert.NotNull(At(container, "resources", "requests", "cpu"));
        Assert.NotNull(At(container, "resources", "limits", "memory"));
    }
}
