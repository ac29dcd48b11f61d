using System.Reflection;

namespace LlmMarketplace.Host.Tests.Architecture;

/// <summary>Module boundaries, checked on the compiled assemblies rather than hoped for.</summary>
public sealed class ModuleBoundaryTests
{
    /// <summary>Which of our assemblies each module may reference. The host composes everything; nothing references the host.</summary>
    private static readonly Dictionary<string, string[]> Allowed = new(StringComparer.Ordinal)
    {
        // Infrastructure only: it knows no module, not even their contracts.
        ["LlmMarketplace.BuildingBlocks"] = [],
        // A module's contracts (the interfaces and records other modules call it through) live with their owner,
        // in an assembly of their own that references nothing but infrastructure.
        ["LlmMarketplace.Access.Contracts"] = ["LlmMarketplace.BuildingBlocks"],
        ["LlmMarketplace.Catalog.Contracts"] = ["LlmMarketplace.BuildingBlocks"],
        ["LlmMarketplace.Governance.Contracts"] = ["LlmMarketplace.BuildingBlocks"],
        ["LlmMarketplace.Gateway"] = ["LlmMarketplace.BuildingBlocks"],
        // The catalog feeds the gateway through its public IModelSource and IGatewayInterceptor seams; it names teams
        // through Access's ITeamNames, judges listings by Governance's policies and writes its audit trail.
        ["LlmMarketplace.Catalog"] = ["LlmMarketplace.BuildingBlocks", "LlmMarketplace.Gateway", "LlmMarketplace.Catalog.Contracts", "LlmMarketplace.Access.Contracts", "LlmMarketplace.Governance.Contracts"],
        ["LlmMarketplace.Access"] = ["LlmMarketplace.BuildingBlocks", "LlmMarketplace.Gateway", "LlmMarketplace.Access.Contracts", "LlmMarketplace.Catalog.Contracts", "LlmMarketplace.Governance.Contracts"],
        ["LlmMarketplace.Shield"] = ["LlmMarketplace.BuildingBlocks", "LlmMarketplace.Gateway", "LlmMarketplace.Governance.Contracts"],
        ["LlmMarketplace.Governance"] = ["LlmMarketplace.BuildingBlocks", "LlmMarketplace.Gateway", "LlmMarketplace.Governance.Contracts", "LlmMarketplace.Catalog.Contracts"],
        // Insights reads usage through Access's public IUsageFeed and acts on the gateway through IGatewayControl;
        // it answers Catalog's IServiceLevelReader and IListingUsageReader.
        ["LlmMarketplace.Insights"] = ["LlmMarketplace.BuildingBlocks", "LlmMarketplace.Gateway", "LlmMarketplace.Access", "LlmMarketplace.Access.Contracts", "LlmMarketplace.Catalog.Contracts", "LlmMarketplace.Governance.Contracts"],
        // The optimizer routes through the gateway's IAutoRouter and interceptors and judges calls by Access's usage records.
        ["LlmMarketplace.Optimizer"] = ["LlmMarketplace.BuildingBlocks", "LlmMarketplace.Gateway", "LlmMarketplace.Access", "LlmMarketplace.Governance.Contracts"],
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
