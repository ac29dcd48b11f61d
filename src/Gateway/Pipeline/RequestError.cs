namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>A client error in the request, with the offending parameter.</summary>
internal sealed record RequestError(string Message, string? Param, string? Code = null)
{
    /// <summary>The kind of a JSON value as an error message names it ("a string", "an array", …).</summary>
    public static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };
}
