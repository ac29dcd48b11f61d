using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using LlmMarketplace.BuildingBlocks.Http;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.OpenApi;

namespace LlmMarketplace.Host.Hosting;

/// <summary>
/// Makes <c>/openapi/v1.json</c> a contract: the security schemes and which operations are public, the query
/// parameters handlers read by hand, nullability and required members as the types declare them, and every error an
/// operation can answer with its body (problem details on <c>/api/v1</c>, OpenAI's or Anthropic's envelope on
/// <c>/v1</c>).
/// </summary>
internal static class OpenApiContract
{
    public const string Bearer = "bearer";
    public const string ApiKeyHeader = "x-api-key";
    private const string Problem = "ProblemDetails";
    private const string ValidationProblem = "HttpValidationProblemDetails";
    private const string OpenAIError = "OpenAIError";
    private const string AnthropicError = "AnthropicError";

    public static void Configure(OpenApiOptions options)
    {
        options.AddSchemaTransformer(static (schema, context, _) =>
        {
            ApplyNullability(schema, context.JsonTypeInfo, context.JsonPropertyInfo);
            return Task.CompletedTask;
        });
        options.AddDocumentTransformer(static async (document, context, cancellationToken) =>
        {
            document.Info.Title = "LLM Marketplace";
            document.Info.Description = "OpenAI-compatible gateway (/v1) and management API (/api/v1). "
                + "Errors on /api/v1 are RFC 9457 problem details (400s with an errors map naming every field); on /v1 OpenAI's error envelope, Anthropic's on /v1/messages.";
            document.Components ??= new OpenApiComponents();
            document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
            await AddSchemaAsync(document, context, Problem, typeof(ProblemDetails), cancellationToken);
            await AddSchemaAsync(document, context, ValidationProblem, typeof(HttpValidationProblemDetails), cancellationToken);
            document.Components.Schemas[OpenAIError] = Envelope(["message", "type", "param", "code"], withType: false);
            document.Components.Schemas[AnthropicError] = Envelope(["type", "message"], withType: true);
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[Bearer] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An API key (sk-...), a session access token from POST /api/v1/auth/login, a service account token, or the master key.",
            };
            document.Components.SecuritySchemes[ApiKeyHeader] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = ApiKeyHeader,
                Description = "An API key in Anthropic's header, on /v1/messages.",
            };
            foreach (var description in context.DescriptionGroups.SelectMany(static g => g.Items))
            {
                var path = "/" + description.RelativePath?.Trim('/');
                if (document.Paths.TryGetValue(path, out var item) && item.Operations is { } operations
                    && description.HttpMethod is { } method && operations.TryGetValue(new HttpMethod(method), out var operation))
                {
                    Describe(document, path, operation, description.ActionDescriptor.EndpointMetadata);
                }
            }
        });
    }

    private static async Task AddSchemaAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, string name, Type type, CancellationToken cancellationToken)
    {
        if (document.Components!.Schemas!.ContainsKey(name)) return;
        document.Components.Schemas[name] = await context.GetOrCreateSchemaAsync(type, null, cancellationToken);
    }

    private static OpenApiSchema Envelope(string[] fields, bool withType)
    {
        var error = new OpenApiSchema { Type = JsonSchemaType.Object, Properties = new Dictionary<string, IOpenApiSchema>(), Required = new HashSet<string>(fields.Take(2)) };
        foreach (var field in fields)
        {
            error.Properties[field] = new OpenApiSchema { Type = field is "param" or "code" ? JsonSchemaType.String | JsonSchemaType.Null : JsonSchemaType.String };
        }
        var envelope = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Properties = new Dictionary<string, IOpenApiSchema> { ["error"] = error },
            Required = new HashSet<string> { "error" },
        };
        if (withType)
        {
            envelope.Properties["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create("error")] };
            envelope.Required.Add("type");
        }
        return envelope;
    }

    private static void Describe(OpenApiDocument document, string path, OpenApiOperation operation, IList<object> metadata)
    {
        var isPublic = metadata.OfType<IAllowAnonymous>().Any();
        var messages = path.StartsWith("/v1/messages", StringComparison.Ordinal);
        var management = path.StartsWith("/api/", StringComparison.Ordinal);
        operation.Security = isPublic ? [] : messages
            ? [Requirement(document, ApiKeyHeader), Requirement(document, Bearer)]
            : [Requirement(document, Bearer)];

        foreach (var declared in metadata.OfType<DeclaredQueryMetadata>().SelectMany(static m => m.Parameters))
        {
            operation.Parameters ??= [];
            if (operation.Parameters.Any(p => p.Name == declared.Name && p.In == ParameterLocation.Query)) continue;
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = declared.Name,
                In = ParameterLocation.Query,
                Description = declared.Description,
                Schema = QuerySchema(declared),
            });
        }

        var errorSchema = management ? ValidationProblem : messages ? AnthropicError : OpenAIError;
        var mediaType = management ? "application/problem+json" : "application/json";
        var codes = new List<int> { 400 };
        if (!isPublic) codes.AddRange([401, 403]);
        if (path.Contains('{', StringComparison.Ordinal)) codes.Add(404);
        if (operation.RequestBody is not null) codes.AddRange([413, 415]);
        if (management && operation.RequestBody is not null) codes.Add(409);
        if (metadata.OfType<EnableRateLimitingAttribute>().Any() || !management) codes.Add(429);
        if (!management) codes.Add(404);
        operation.Responses ??= new OpenApiResponses();
        foreach (var code in codes.Distinct())
        {
            var key = code.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var schema = code == 400 ? errorSchema : management ? Problem : errorSchema;
            if (!operation.Responses.TryGetValue(key, out var existing))
            {
                operation.Responses[key] = new OpenApiResponse
                {
                    Description = Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(code),
                    Content = new Dictionary<string, OpenApiMediaType> { [mediaType] = new() { Schema = new OpenApiSchemaReference(schema, document) } },
                    Headers = code == 429 ? RetryAfter() : null,
                };
            }
            else if (existing is OpenApiResponse response && (response.Content is null || response.Content.Count == 0))
            {
                response.Content = new Dictionary<string, OpenApiMediaType> { [mediaType] = new() { Schema = new OpenApiSchemaReference(schema, document) } };
            }
        }
    }

    private static Dictionary<string, IOpenApiHeader> RetryAfter() => new()
    {
        ["Retry-After"] = new OpenApiHeader { Description = "Seconds to wait before retrying.", Schema = new OpenApiSchema { Type = JsonSchemaType.Integer } },
    };

    private static OpenApiSecurityRequirement Requirement(OpenApiDocument document, string scheme) =>
        new() { [new OpenApiSecuritySchemeReference(scheme, document)] = [] };

    private static OpenApiSchema QuerySchema(QueryParameter parameter)
    {
        var schema = parameter.Type switch
        {
            QueryType.Integer => new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32" },
            QueryType.Number => new OpenApiSchema { Type = JsonSchemaType.Number },
            QueryType.Boolean => new OpenApiSchema { Type = JsonSchemaType.Boolean },
            QueryType.DateTime => new OpenApiSchema { Type = JsonSchemaType.String, Format = "date-time" },
            _ => new OpenApiSchema { Type = JsonSchemaType.String },
        };
        if (parameter.Values is { Count: > 0 } values) schema.Enum = [.. values.Select(static v => (JsonNode)JsonValue.Create(v)!)];
        return schema;
    }

    /// <summary>
    /// Properties are nullable only where the type says so (a nullable reference or value type), and required where
    /// they are always present: <c>required</c> members, and the non-nullable parameters of a record's constructor.
    /// </summary>
    private static void ApplyNullability(OpenApiSchema schema, JsonTypeInfo type, JsonPropertyInfo? property)
    {
        if (property is not null || type.Kind != JsonTypeInfoKind.Object || schema.Properties is null) return;
        foreach (var p in type.Properties)
        {
            if (!schema.Properties.TryGetValue(p.Name, out var propertySchema)) continue;
            var nullable = p.IsGetNullable && p.IsSetNullable;
            if (!nullable && propertySchema is OpenApiSchema inline && inline.Type is { } t && t.HasFlag(JsonSchemaType.Null) && t != JsonSchemaType.Null)
            {
                inline.Type = t & ~JsonSchemaType.Null;
            }
            if (p.IsRequired || (p.AssociatedParameter is not null && !p.IsGetNullable && !p.AssociatedParameter.HasDefaultValue))
            {
                schema.Required ??= new HashSet<string>();
                schema.Required.Add(p.Name);
            }
        }
    }
}
