namespace LlmMarketplace.Gateway.Routing;

/// <summary>
/// Narrows the deployments a request may use: <c>x-gateway-route: a,b</c> or the body's
/// <c>provider: {"only": [...], "ignore": [...], "order": [...]}</c>. Entries match a provider name or a deployment id.
/// </summary>
internal sealed record RouteFilter(IReadOnlyList<string>? Only, IReadOnlyList<string>? Ignore, IReadOnlyList<string>? Order)
{
    public static RouteFilter? FromHeader(string? header)
    {
        if (string.IsNullOrWhiteSpace(header)) return null;
        var items = header.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return items.Length == 0 ? null : new RouteFilter(items, null, items);
    }

    public static RouteFilter FromJson(JsonElement provider)
    {
        static List<string>? Read(JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
                ? v.EnumerateArray().Where(static x => x.ValueKind == JsonValueKind.String).Select(static x => x.GetString()!).ToList()
                : null;
        return new RouteFilter(Read(provider, "only"), Read(provider, "ignore"), Read(provider, "order"));
    }
}
