using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Primitives;

namespace LlmMarketplace.BuildingBlocks.Http;

/// <summary>A query parameter an endpoint takes: bound from the handler's signature (with its type), or declared (read by hand).</summary>
public sealed record QueryParameterContract(string Name, Type? ClrType, bool Required, QueryParameter? Declared);

/// <summary>
/// What an endpoint accepts, read once from its metadata: the query parameters (the handler's bindable parameters plus
/// <see cref="DeclaredQueryMetadata"/>) and the request content types (<see cref="IAcceptsMetadata"/>). The shared door
/// check and the OpenAPI document both read it, so they cannot disagree.
/// </summary>
public sealed class EndpointContract
{
    private static readonly ConcurrentDictionary<Endpoint, EndpointContract> Cache = new();
    private static readonly ConcurrentDictionary<Type, Func<string, bool>> Parsers = new();
    private static readonly NullabilityInfoContext Nullability = new();

    private EndpointContract(IReadOnlyDictionary<string, QueryParameterContract> query, bool anyQuery, IReadOnlyList<string> contentTypes)
    {
        Query = query;
        AnyQuery = anyQuery;
        ContentTypes = contentTypes;
    }

    /// <summary>The query parameters by name (case-insensitive, as binding is).</summary>
    public IReadOnlyDictionary<string, QueryParameterContract> Query { get; }

    /// <summary>True when the endpoint takes query parameters it does not declare.</summary>
    public bool AnyQuery { get; }

    /// <summary>The media types of the request body, empty when the endpoint reads no body.</summary>
    public IReadOnlyList<string> ContentTypes { get; }

    /// <summary>The contract of a route handler endpoint, or null for endpoints that are not (their parameters are unknown).</summary>
    public static EndpointContract? Of(Endpoint endpoint) =>
        endpoint is RouteEndpoint route && route.Metadata.GetMetadata<MethodInfo>() is not null
            ? Cache.GetOrAdd(endpoint, static e => Build((RouteEndpoint)e))
            : null;

    private static EndpointContract Build(RouteEndpoint endpoint)
    {
        var query = new Dictionary<string, QueryParameterContract>(StringComparer.OrdinalIgnoreCase);
        var method = endpoint.Metadata.GetMetadata<MethodInfo>()!;
        var routeNames = endpoint.RoutePattern.Parameters.Select(static p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var parameter in method.GetParameters())
        {
            if (QueryName(parameter, routeNames) is { } name)
            {
                query[name] = new QueryParameterContract(name, parameter.ParameterType, IsRequired(parameter), null);
            }
        }
        foreach (var declared in endpoint.Metadata.GetOrderedMetadata<DeclaredQueryMetadata>().SelectMany(static m => m.Parameters))
        {
            query.TryAdd(declared.Name, new QueryParameterContract(declared.Name, null, false, declared));
        }
        var contentTypes = endpoint.Metadata.GetOrderedMetadata<IAcceptsMetadata>().SelectMany(static a => a.ContentTypes).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        return new EndpointContract(query, endpoint.Metadata.GetMetadata<AnyQueryMetadata>() is not null, contentTypes);
    }

    /// <summary>The query name a handler parameter binds from, following minimal APIs' rules, or null when it binds from elsewhere.</summary>
    private static string? QueryName(ParameterInfo parameter, HashSet<string> routeNames)
    {
        var attributes = parameter.GetCustomAttributes(inherit: true);
        if (attributes.OfType<IFromQueryMetadata>().FirstOrDefault() is { } fromQuery) return fromQuery.Name ?? parameter.Name;
        if (attributes.Any(static a => a is IFromServiceMetadata or IFromBodyMetadata or IFromHeaderMetadata or IFromRouteMetadata or IFromFormMetadata
                || a.GetType().Name == "AsParametersAttribute"))
        {
            return null;
        }
        if (parameter.Name is null || routeNames.Contains(parameter.Name)) return null;
        return IsSimple(parameter.ParameterType) ? parameter.Name : null;
    }

    private static bool IsRequired(ParameterInfo parameter)
    {
        if (parameter.HasDefaultValue) return false;
        if (parameter.ParameterType.IsValueType) return Nullable.GetUnderlyingType(parameter.ParameterType) is null;
        return Nullability.Create(parameter).WriteState == NullabilityState.NotNull;
    }

    /// <summary>The element type for arrays, the underlying type for nullables.</summary>
    public static Type Scalar(Type type)
    {
        if (type.IsArray) type = type.GetElementType()!;
        return Nullable.GetUnderlyingType(type) ?? type;
    }

    private static bool IsSimple(Type type)
    {
        var scalar = Scalar(type);
        return scalar == typeof(string) || scalar.IsPrimitive || scalar.IsEnum || scalar == typeof(decimal) || scalar == typeof(Guid)
            || scalar == typeof(DateTime) || scalar == typeof(DateTimeOffset) || scalar == typeof(DateOnly) || scalar == typeof(TimeOnly)
            || scalar == typeof(TimeSpan) || scalar == typeof(Uri) || TryParseMethod(scalar) is not null;
    }

    /// <summary>Checks the query string against the contract, adding every problem to <paramref name="errors"/>.</summary>
    public void Check(IQueryCollection query, Validation.ValidationErrors errors)
    {
        foreach (var key in query.Keys)
        {
            if (!Query.ContainsKey(key) && !AnyQuery)
            {
                errors.Add(key, Query.Count == 0
                    ? $"'{key}' is not a parameter of this operation, which takes no query parameters."
                    : $"'{key}' is not a parameter of this operation; use one of {string.Join(", ", Query.Keys.Order(StringComparer.Ordinal))}.");
            }
        }
        foreach (var parameter in Query.Values)
        {
            if (parameter.ClrType is not { } type) continue;
            var values = query[parameter.Name];
            if (StringValues.IsNullOrEmpty(values) || values.All(string.IsNullOrEmpty))
            {
                if (parameter.Required) errors.Add(parameter.Name, $"{parameter.Name} is required.");
                continue;
            }
            var scalar = Scalar(type);
            if (!type.IsArray && values.Count > 1 && scalar != typeof(string))
            {
                errors.Add(parameter.Name, $"{parameter.Name} must be given once.");
                continue;
            }
            if (scalar == typeof(string)) continue;
            var parse = Parsers.GetOrAdd(scalar, CreateParser);
            if (values.Any(v => !string.IsNullOrEmpty(v) && !parse(v!)))
            {
                errors.Add(parameter.Name, $"{parameter.Name} must be {Describe(scalar)}.");
            }
        }
    }

    /// <summary>How a person would name the expected type of a query value.</summary>
    public static string Describe(Type scalar) => scalar switch
    {
        _ when scalar == typeof(bool) => "true or false",
        _ when scalar == typeof(int) || scalar == typeof(long) || scalar == typeof(short) => "an integer",
        _ when scalar == typeof(double) || scalar == typeof(decimal) || scalar == typeof(float) => "a number",
        _ when scalar == typeof(DateTimeOffset) || scalar == typeof(DateTime) => "an ISO 8601 time, e.g. 2026-01-31T00:00:00Z",
        _ when scalar == typeof(Guid) => "a GUID",
        _ when scalar.IsEnum => "one of " + string.Join(", ", Enum.GetNames(scalar)),
        _ => "a valid " + scalar.Name,
    };

    private static Func<string, bool> CreateParser(Type scalar)
    {
        if (scalar.IsEnum) return value => Enum.TryParse(scalar, value, ignoreCase: true, out _) && !char.IsAsciiDigit(value[0]) && value[0] != '-';
        if (scalar == typeof(string) || scalar == typeof(Uri)) return static _ => true;
        var method = TryParseMethod(scalar);
        if (method is null) return static _ => true;
        var withProvider = method.GetParameters().Length == 3;
        return value =>
        {
            object?[] args = withProvider ? [value, CultureInfo.InvariantCulture, null] : [value, null];
            return (bool)method.Invoke(null, args)!;
        };
    }

    private static MethodInfo? TryParseMethod(Type type) =>
        type.GetMethod("TryParse", BindingFlags.Public | BindingFlags.Static, [typeof(string), typeof(IFormatProvider), type.MakeByRefType()])
        ?? type.GetMethod("TryParse", BindingFlags.Public | BindingFlags.Static, [typeof(string), type.MakeByRefType()]);
}
