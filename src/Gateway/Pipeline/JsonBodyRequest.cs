using LlmMarketplace.Gateway.Routing;

namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>
/// A request whose body is held as a parsed JSON document, which it owns: its model, its <c>provider</c> routing
/// extension, and the document kept whole so adapters can forward fields the gateway does not know untouched.
/// </summary>
internal abstract class JsonBodyRequest(JsonDocument document, string model, RouteFilter? route) : IDisposable, IOperationRequest
{
    public JsonDocument Document { get; } = document;

    public JsonElement Root => Document.RootElement;

    public string Model { get; } = model;

    public RouteFilter? Route { get; } = route;

    public void Dispose() => Document.Dispose();
}
