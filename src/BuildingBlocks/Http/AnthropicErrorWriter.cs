using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.BuildingBlocks.Http;

/// <summary>Writes Anthropic's error envelope, <c>{"type": "error", "error": {"type", "message"}}</c>, answered on <c>/v1/messages</c>.</summary>
public static class AnthropicErrorWriter
{
    /// <summary>The Anthropic Messages API paths, which answer errors in Anthropic's envelope.</summary>
    public static bool IsMessagesPath(PathString path) => path.StartsWithSegments("/v1/messages", StringComparison.OrdinalIgnoreCase);

    public static string TypeForStatus(int status) => status switch
    {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 or 529 => "overloaded_error",
        >= 500 => "api_error",
        _ => "invalid_request_error",
    };

    public static byte[] Serialize(string type, string message)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, "error"u8);
            writer.WriteStartObject("error"u8);
            writer.WriteString("type"u8, type);
            writer.WriteString("message"u8, message);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public static Task WriteAsync(HttpContext context, int status, string message)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return Task.CompletedTask;
        }
        var body = Serialize(TypeForStatus(status), message);
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body).AsTask();
    }
}
