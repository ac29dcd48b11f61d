namespace LlmMarketplace.Shield.Tests.Infrastructure;

/// <summary>
/// The host configuration the inline shield tests start from: models served by one OpenAI-compatible upstream
/// (provider <c>upstream</c>) and the shield's scopes over them.
/// </summary>
public static class ShieldConfig
{
    /// <summary>A model of the gateway on the upstream: its name, its kind (chat when null) and the upstream's model.</summary>
    public sealed record Model(string Name, string? Kind = null, string Upstream = "up");

    /// <summary>A shield scope: the model it applies to and its modes (<c>block</c>, <c>redact</c>, <c>monitor</c>); null leaves a mode unset.</summary>
    public sealed record Scope(string Model, string? Injection = null, string? Pii = null, string? Secrets = null);

    /// <summary>The YAML of the upstream at <paramref name="upstreamBaseUrl"/> (<c>http://127.0.0.1:PORT</c>), the models and the scopes.</summary>
    public static string Yaml(string upstreamBaseUrl, IEnumerable<Model> models, IEnumerable<Scope> scopes)
    {
        var yaml = new StringBuilder()
            .Append("Providers:\n  - Name: upstream\n    Type: openai\n    BaseUrl: ").Append(upstreamBaseUrl).Append("/v1\n")
            .Append("Models:\n");
        foreach (var model in models)
        {
            yaml.Append("  - Name: ").Append(model.Name).Append('\n');
            if (model.Kind is not null) yaml.Append("    Kind: ").Append(model.Kind).Append('\n');
            yaml.Append("    Deployments: [{ Provider: upstream, Model: ").Append(model.Upstream).Append(" }]\n");
        }
        yaml.Append("Shield:\n  Scopes:\n");
        foreach (var scope in scopes)
        {
            yaml.Append("    - Model: ").Append(scope.Model).Append('\n');
            if (scope.Injection is not null) yaml.Append("      Injection: ").Append(scope.Injection).Append('\n');
            if (scope.Pii is not null) yaml.Append("      Pii: ").Append(scope.Pii).Append('\n');
            if (scope.Secrets is not null) yaml.Append("      Secrets: ").Append(scope.Secrets).Append('\n');
        }
        return yaml.ToString();
    }
}
