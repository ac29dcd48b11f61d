using System.Text.Json;
using System.Text.RegularExpressions;
using LlmMarketplace.BuildingBlocks.Validation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace LlmMarketplace.BuildingBlocks.Http;

/// <summary>
/// The one error path of the management API (<c>/api/v1</c>): every request is checked at the door against its
/// endpoint's <see cref="EndpointContract"/> (unknown or malformed query parameters, unsupported media types, text that
/// is not valid Unicode), binding failures become validation problems naming the field, and every 4xx or 5xx that a
/// handler left without a body is answered as RFC 9457 problem details.
/// </summary>
public static partial class ManagementApiErrors
{
    /// <summary>The deepest JSON nesting the text check walks (deeper documents are the parser's to refuse).</summary>
    public const int MaxJsonDepth = 64;

    public static bool IsManagementApi(PathString path) => path.StartsWithSegments("/api/v1", StringComparison.OrdinalIgnoreCase);

    /// <summary>Adds the door check and the error path for <c>/api/v1</c>; goes after authentication and authorization.</summary>
    public static IApplicationBuilder UseManagementApiErrors(this IApplicationBuilder app) =>
        app.Use(static (context, next) => IsManagementApi(context.Request.Path) ? HandleAsync(context, next) : next(context));

    private static async Task HandleAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            if (await CheckAsync(context))
            {
                await next(context);
            }
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            context.Response.Clear();
            await WriteAsync(context, ex);
            return;
        }
        if (!context.Response.HasStarted && context.Response.StatusCode >= 400 && context.Response.ContentLength is null
            && string.IsNullOrEmpty(context.Response.ContentType) && !HttpMethods.IsHead(context.Request.Method))
        {
            await ProblemAsync(context, context.Response.StatusCode, DefaultDetail(context));
        }
    }

    /// <summary>Refuses a request that breaks its endpoint's contract; true when it may go on.</summary>
    private static async Task<bool> CheckAsync(HttpContext context)
    {
        var request = context.Request;
        var contract = context.GetEndpoint() is { } endpoint ? EndpointContract.Of(endpoint) : null;
        var errors = new ValidationErrors();
        contract?.Check(request.Query, errors);

        var hasBody = request.ContentLength > 0 || (request.ContentLength is null && request.Headers.TransferEncoding.Count > 0);
        if (hasBody && contract is { ContentTypes.Count: > 0 } && !Accepts(contract.ContentTypes, request.ContentType))
        {
            await ProblemAsync(context, StatusCodes.Status415UnsupportedMediaType,
                $"This operation takes a body of type {string.Join(" or ", contract.ContentTypes)}; the request was sent as {(string.IsNullOrEmpty(request.ContentType) ? "no Content-Type" : request.ContentType)}.");
            return false;
        }
        if (hasBody && request.HasJsonContentType())
        {
            request.EnableBuffering();
            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer, context.RequestAborted);
            request.Body.Position = 0;
            if (JsonText.FindInvalidText(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), MaxJsonDepth) is { } path)
            {
                errors.Add(path == "$" ? "body" : path, "is not valid text: invalid UTF-8 or an unpaired surrogate (such as \\ud800).");
            }
        }
        if (errors.IsEmpty) return true;
        if (HttpMethods.IsGet(request.Method) && !hasBody && context.GetEndpoint() is { } safe)
        {
            // A read has no side effects: let the handler check the rest of the query too, so every error is told at once.
            await AddHandlerErrorsAsync(context, safe.RequestDelegate, errors);
        }
        context.Response.Clear();
        await TypedResults.ValidationProblem(errors.ToDictionary()).ExecuteAsync(context);
        return false;
    }

    /// <summary>Runs a read with its answer held back, and adds the validation errors it reports to <paramref name="errors"/>.</summary>
    private static async Task AddHandlerErrorsAsync(HttpContext context, RequestDelegate? handler, ValidationErrors errors)
    {
        if (handler is null) return;
        var original = context.Response.Body;
        using var buffer = new MemoryStream();
        context.Response.Body = buffer;
        try
        {
            await handler(context);
        }
        catch (BadHttpRequestException)
        {
            // The door already named the parameter that failed to bind.
        }
        finally
        {
            context.Response.Body = original;
        }
        if (context.Response.StatusCode != StatusCodes.Status400BadRequest || buffer.Length == 0) return;
        try
        {
            using var document = JsonDocument.Parse(buffer.ToArray());
            if (!document.RootElement.TryGetProperty("errors", out var reported) || reported.ValueKind != JsonValueKind.Object) return;
            var known = errors.ToDictionary();
            foreach (var field in reported.EnumerateObject())
            {
                if (known.ContainsKey(field.Name) || field.Value.ValueKind != JsonValueKind.Array) continue;
                foreach (var message in field.Value.EnumerateArray()) errors.Add(field.Name, message.GetString() ?? "");
            }
        }
        catch (JsonException)
        {
            // Not a validation problem: the door's errors stand alone.
        }
    }

    private static bool Accepts(IReadOnlyList<string> accepted, string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var sent)) return false;
        foreach (var type in accepted)
        {
            if (!MediaTypeHeaderValue.TryParse(type, out var candidate)) continue;
            if (sent.IsSubsetOf(candidate)) return true;
            if (candidate.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) && sent.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }

    /// <summary>A request minimal APIs could not bind: a validation problem naming the field, or the status Kestrel chose.</summary>
    private static Task WriteAsync(HttpContext context, BadHttpRequestException ex)
    {
        if (ex.StatusCode != StatusCodes.Status400BadRequest)
        {
            return ProblemAsync(context, ex.StatusCode, ex.StatusCode == StatusCodes.Status415UnsupportedMediaType
                ? "This operation takes a JSON body (Content-Type: application/json)."
                : ex.Message);
        }
        var errors = new ValidationErrors();
        if (ex.InnerException is JsonException json)
        {
            var path = json.Path is null or "$" ? "body" : json.Path.StartsWith("$.", StringComparison.Ordinal) ? json.Path[2..] : json.Path.TrimStart('$');
            errors.Add(path, path == "body"
                ? "The request body is not valid JSON, or not a JSON object."
                : $"The value of '{path}' has the wrong type or is malformed.");
        }
        else if (ParameterName().Match(ex.Message) is { Success: true } match)
        {
            var name = match.Groups["name"].Value;
            errors.Add(name, ex.Message.StartsWith("Required", StringComparison.Ordinal) ? $"{name} is required." : $"{name} has a value that cannot be read.");
        }
        else
        {
            errors.Add("request", ex.Message);
        }
        return TypedResults.ValidationProblem(errors.ToDictionary()).ExecuteAsync(context);
    }

    /// <summary>What a person can do about a refusal that its handler (or routing) left without a body.</summary>
    private static string? DefaultDetail(HttpContext context) => context.Response.StatusCode switch
    {
        StatusCodes.Status404NotFound => context.GetEndpoint() is null
            ? $"There is no operation at {context.Request.Path}."
            : "Nothing with this id exists, or it is not visible to the caller.",
        StatusCodes.Status405MethodNotAllowed => $"{context.Request.Path} does not take {context.Request.Method}; the Allow header lists the methods it takes.",
        StatusCodes.Status415UnsupportedMediaType => $"This operation does not take a body of type {(string.IsNullOrEmpty(context.Request.ContentType) ? "(none)" : context.Request.ContentType)}; send application/json.",
        _ => null,
    };

    /// <summary>Answers problem details with the status's standard title.</summary>
    public static Task ProblemAsync(HttpContext context, int status, string? detail) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: ReasonPhrases.GetReasonPhrase(status)).ExecuteAsync(context);

    [GeneratedRegex("parameter \"[^\"]*? (?<name>[A-Za-z_][A-Za-z0-9_]*)\"")]
    private static partial Regex ParameterName();
}
