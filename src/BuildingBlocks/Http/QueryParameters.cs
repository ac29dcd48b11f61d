using Microsoft.AspNetCore.Builder;

namespace LlmMarketplace.BuildingBlocks.Http;

/// <summary>The JSON Schema type of a query parameter that a handler reads from the query string itself.</summary>
public enum QueryType
{
    String,
    Integer,
    Number,
    Boolean,
    DateTime,
}

/// <summary>A query parameter that a handler reads from the query string itself (not bound from its signature).</summary>
public sealed record QueryParameter(string Name, QueryType Type = QueryType.String, string? Description = null, IReadOnlyList<string>? Values = null);

/// <summary>Endpoint metadata: the query parameters a handler reads by hand, for the unknown-parameter check and the OpenAPI document.</summary>
public sealed class DeclaredQueryMetadata(IReadOnlyList<QueryParameter> parameters)
{
    public IReadOnlyList<QueryParameter> Parameters { get; } = parameters;
}

/// <summary>Endpoint metadata: the endpoint takes query parameters it does not know in advance (a redirect from an identity provider).</summary>
public sealed class AnyQueryMetadata
{
    public static readonly AnyQueryMetadata Instance = new();
}

public static class QueryParameterExtensions
{
    /// <summary>Declares the query parameters a handler reads from <c>HttpRequest.Query</c> itself; any other is refused with a 400.</summary>
    public static TBuilder WithQuery<TBuilder>(this TBuilder builder, params QueryParameter[] parameters) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new DeclaredQueryMetadata(parameters));

    /// <summary>Lets an endpoint take query parameters it does not declare.</summary>
    public static TBuilder AllowAnyQuery<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(AnyQueryMetadata.Instance);
}
