using System.Collections.Concurrent;
using LlmMarketplace.BuildingBlocks.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;

namespace LlmMarketplace.Gateway.Errors;

/// <summary>
/// Answers a <c>/v1</c> request no operation took. Routing gives a request to this catch-all when no operation matches
/// its path, its method or its content type; this tells the three apart: 405 with <c>Allow</c> when the path is an
/// operation's with another method, 415 when the method matches but the body is not JSON, else 404.
/// </summary>
internal static class V1Fallback
{
    private static readonly ConcurrentDictionary<string, TemplateMatcher> Matchers = new(StringComparer.Ordinal);

    public static Task HandleAsync(HttpContext context, EndpointDataSource endpoints)
    {
        var request = context.Request;
        var path = request.Path;
        var methods = new SortedSet<string>(StringComparer.Ordinal);
        var methodMatches = false;
        IReadOnlyList<string>? accepted = null;
        foreach (var endpoint in endpoints.Endpoints)
        {
            if (endpoint is not RouteEndpoint route || route.RoutePattern.RawText is not { } raw || raw.Contains("{**", StringComparison.Ordinal)) continue;
            if (!raw.StartsWith("/v1/", StringComparison.OrdinalIgnoreCase) && !raw.StartsWith("v1/", StringComparison.OrdinalIgnoreCase)) continue;
            var matcher = Matchers.GetOrAdd(raw, static r => new TemplateMatcher(TemplateParser.Parse(r.TrimStart('/')), new RouteValueDictionary()));
            if (!matcher.TryMatch(path, new RouteValueDictionary())) continue;
            var allowed = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods;
            if (allowed is null || allowed.Count == 0 || allowed.Contains(request.Method, StringComparer.OrdinalIgnoreCase))
            {
                methodMatches = true;
                accepted = endpoint.Metadata.GetMetadata<IAcceptsMetadata>()?.ContentTypes ?? accepted;
            }
            else
            {
                foreach (var m in allowed) methods.Add(m);
            }
        }
        if (methodMatches)
        {
            var wanted = accepted is { Count: > 0 } ? string.Join(", ", accepted) : "application/json";
            var sent = string.IsNullOrEmpty(request.ContentType) ? "none" : $"'{request.ContentType}'";
            return WriteAsync(context, StatusCodes.Status415UnsupportedMediaType,
                $"Unsupported Content-Type {sent} for {request.Method} {path}: send the body as {wanted}.", "unsupported_media_type");
        }
        if (methods.Count > 0)
        {
            context.Response.Headers.Allow = string.Join(", ", methods);
            return WriteAsync(context, StatusCodes.Status405MethodNotAllowed,
                $"Method {request.Method} is not allowed for {path}; allowed: {string.Join(", ", methods)}.", "method_not_allowed");
        }
        return WriteAsync(context, StatusCodes.Status404NotFound, $"Invalid URL ({request.Method} {path})", "unknown_url");
    }

    private static Task WriteAsync(HttpContext context, int status, string message, string code) =>
        AnthropicErrorWriter.IsMessagesPath(context.Request.Path)
            ? AnthropicErrorWriter.WriteAsync(context, status, message)
            : OpenAIErrors.WriteAsync(context, status, message, OpenAIErrors.InvalidRequest, null, code);
}
