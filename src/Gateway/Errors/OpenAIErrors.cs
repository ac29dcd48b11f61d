using LlmMarketplace.BuildingBlocks.Http;
using LlmMarketplace.Gateway.Providers;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Gateway.Errors;

/// <summary>The data plane's errors, exactly in OpenAI's envelope and status codes.</summary>
public static class OpenAIErrors
{
    public const string InvalidRequest = "invalid_request_error";
    public const string Authentication = "authentication_error";
    public const string Permission = "permission_error";
    public const string RateLimit = "rate_limit_exceeded";
    public const string Api = "api_error";
    public const string Server = "server_error";

    public static string TypeForStatus(int status) => status switch
    {
        401 => Authentication,
        403 => Permission,
        429 => RateLimit,
        >= 500 => Api,
        _ => InvalidRequest,
    };

    public static Task WriteAsync(HttpContext context, int status, string message, string type, string? param = null, string? code = null) =>
        OpenAIErrorWriter.WriteAsync(context, status, message, type, param, code);

    public static Task InvalidRequestAsync(HttpContext context, string message, string? param = null, string? code = null) =>
        WriteAsync(context, StatusCodes.Status400BadRequest, message, InvalidRequest, param, code);

    public static Task ModelNotFoundAsync(HttpContext context, string model) =>
        WriteAsync(context, StatusCodes.Status404NotFound, $"The model `{model}` does not exist or you do not have access to it.", InvalidRequest, "model", "model_not_found");

    internal static Task UpstreamAsync(HttpContext context, UpstreamError error) =>
        WriteAsync(context, error.Status, error.Message, error.Type, error.Param, error.Code);
}
