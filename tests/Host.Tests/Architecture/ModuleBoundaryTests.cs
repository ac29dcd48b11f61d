using System.Reflection;

namespace LlmMarketplace.Host.Tests.Architecture;

/// <summary>Module boundaries, checked on the compiled assemblies rather than hoped for.</summary>
public sealed class ModuleBoundaryTests
{
    /// <summary>Which of our assemblies each module may reference. The host composes everything; nothing references the host.</summary>
    private static readonly Dictionary<string, string[]> Allowed = new(StringComparer.Ordinal)
    {
        ["LlmMarketplace.BuildingBlocks"] = [],
        ["LlmMarketplace.Gateway"] = ["LlmMarketplace.BuildingBlocks"],
        // The catalog feeds the gateway through its public IModelSource and IGatewayInterceptor seams.
        ["LlmMarketplace.Catalog"] = ["LlmMarketplace.BuildingBlocks", "LlmMarketplace.Gateway"],
        ["LlmMarketplace.Access"] = ["LlmMarketplace.BuildingBlocks", "LlmMarketplace.Gateway"],
        ["LlmMarketplace.Shield"] = ["LlmMarketplace.BuildingBlocks", "LlmMarketplace.Gateway"],
        ["LlmMarketplace.Governance"] = ["LlmMarketplace.BuildingBlocks", "LlmMarketplace.Gateway"],
        // Insights reads usage through Access's public IUsageFeed and acts on the gateway through IGatewayControl.
        ["LlmMarketplace.Insights"] = ["LlmMarketplace.BuildingBlocks", "LlmMarketplace.Gateway", "LlmMarketplace.Access"],
        // The optimizer routes through the gateway's IAutoRouter and interceptors and judges calls by Access's usage records.
        ["LlmMarketplace.Optimizer"] = ["LlmMarketplace.BuildingBlocks", "LlmMarketplace.Gateway", "LlmMarketplace.Access"],
        // The portal talks to the modules only through their HTTP API, as any client does.
        ["LlmMarketplace.Portal"] = [],
    };

    [Fact]
    public void Modules_reference_only_what_their_boundary_allows()
    {
        var ours = Directory.GetFiles(AppContext.BaseDirectory, "LlmMarketplace.*.dll")
            .Select(static f => Path.GetFileNameWithoutExtension(f))
            .Where(static n => !n.EndsWith(".Tests", StringComparison.Ordinal) && n != "LlmMarketplace.TestKit")
            .ToList();
        // Every module is checked: the host references them all, so each one's assembly sits beside the tests.
        var missing = Allowed.Keys.Where(m => !ours.Contains(m)).ToList();
        Assert.True(missing.Count == 0, "these modules were not found beside the tests, so nothing checked them: " + string.Join(", ", missing));

        var violations = new List<string>();
        foreach (var name in ours)
        {
            var references = Assembly.Load(name).GetReferencedAssemblies()
                .Select(static r => r.Name!)
                .Where(static r => r.StartsWith("LlmMarketplace.", StringComparison.Ordinal) || r == "llm-marketplace")
                .ToList();
            if (!Allowed.TryGetValue(name, out var allowed))
            {
                violations.Add($"{name} has no declared boundary: add it to {nameof(Allowed)}");
                continue;
            }
            violations.AddRange(references.Where(r => !allowed.Contains(r)).Select(r => $"{name} must not reference {r}"));
        }
        Assert.Empty(violations);
    }
}
