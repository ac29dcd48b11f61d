using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.BuildingBlocks.Http;

/// <summary>Writes OpenAI's error envelope: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
public static class OpenAIErrorWriter
{
    public static byte[] Serialize(string message, string type, string? param, string? code)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("error"u8);
            writer.WriteString("message"u8, message);
            writer.WriteString("type"u8, type);
            if (param is null) writer.WriteNull("param"u8); else writer.WriteString("param"u8, param);
            if (code is null) writer.WriteNull("code"u8); else writer.WriteString("code"u8, code);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public static Task WriteAsync(HttpContext context, int status, string message, string type, string? param = null, string? code = null)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return Task.CompletedTask;
        }
        response.StatusCode = status;
        response.ContentType = "application/json";
        var body = Serialize(message, type, param, code);
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body).AsTask();
    }

    /// <summary>True for the OpenAI-compatible data plane, which answers errors in OpenAI's envelope.</summary>
    public static bool IsDataPlane(PathString path) => path.StartsWithSegments("/v1", StringComparison.OrdinalIgnoreCase);
}
