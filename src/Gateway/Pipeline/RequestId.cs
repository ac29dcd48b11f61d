using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>Reads the client's <c>x-request-id</c> when it is safe to echo, or makes one.</summary>
public static class RequestId
{
    public const string HeaderName = "x-request-id";

    public static string Get(HttpContext context)
    {
        if (context.Items.TryGetValue(HeaderName, out var existing) && existing is string id)
        {
            return id;
        }
        var incoming = context.Request.Headers[HeaderName].ToString();
        id = IsValid(incoming) ? incoming : "req_" + Guid.CreateVersion7().ToString("N");
        context.Items[HeaderName] = id;
        return id;
    }

    private static bool IsValid(string value)
    {
        if (value.Length is 0 or > 128) return false;
        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':')) return false;
        }
        return true;
    }
}
