using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace LlmMarketplace.Access.Teams;

/// <summary>
/// A JSON request body that never fails to bind: a body that is not JSON of the expected shape becomes a validation
/// problem naming the offending path, instead of a bare 400.
/// </summary>
public sealed class JsonBody<T> : IEndpointParameterMetadataProvider where T : class, new()
{
    private JsonBody(T? value, string? path, string? error)
    {
        Value = value ?? new T();
        ErrorPath = path;
        Error = error;
    }

    public T Value { get; }

    public string? ErrorPath { get; }

    public string? Error { get; }

    public bool IsValid => Error is null;

    public ValidationProblem Problem()
    {
        var errors = new ValidationErrors();
        errors.Add(ErrorPath ?? "body", Error ?? "The request body is not valid JSON.");
        return TypedResults.ValidationProblem(errors.ToDictionary());
    }

    /// <summary>Declares the JSON body, for the door check (415 for other media types) and the OpenAPI document.</summary>
    public static void PopulateMetadata(System.Reflection.ParameterInfo parameter, Microsoft.AspNetCore.Builder.EndpointBuilder builder) =>
        builder.Metadata.Add(new Microsoft.AspNetCore.Http.Metadata.AcceptsMetadata(["application/json"], typeof(T), isOptional: true));

    public static async ValueTask<JsonBody<T>> BindAsync(HttpContext context)
    {
        var options = context.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        if (context.Request.ContentLength == 0)
        {
            return new JsonBody<T>(null, null, null);
        }
        try
        {
            var value = await JsonSerializer.DeserializeAsync<T>(context.Request.Body, options, context.RequestAborted);
            return new JsonBody<T>(value, null, null);
        }
        catch (JsonException ex)
        {
            var path = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "body" : ex.Path.TrimStart('$', '.');
            return new JsonBody<T>(null, path, ex.Path is null or "$" ? "The request body is not valid JSON." : $"The value at '{path}' has the wrong type.");
        }
    }
}
