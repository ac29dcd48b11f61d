using System.Text.Json.Nodes;
using LlmMarketplace.Gateway.ChatCompletions;

namespace LlmMarketplace.Gateway.Providers;

/// <summary>
/// The parts of an OpenAI chat request that the translating adapters (Anthropic, Bedrock, Gemini, Cohere) map the same
/// way into their own request bodies.
/// </summary>
internal static class ChatTranslation
{
    /// <summary><c>max_completion_tokens</c>, else the older <c>max_tokens</c>, else none.</summary>
    public static int? MaxTokens(ChatRequest request) =>
        request.TryGet("max_completion_tokens", out var mct) ? mct.GetInt32()
        : request.TryGet("max_tokens", out var mt) ? mt.GetInt32()
        : null;

    /// <summary>OpenAI's <c>stop</c> (a string or an array of them) as a list of stop sequences.</summary>
    public static JsonNode? StopSequences(JsonElement stop) =>
        stop.ValueKind == JsonValueKind.String ? new JsonArray(stop.GetString()) : JsonNode.Parse(stop.GetRawText());

    /// <summary>The call a <c>tool</c> message answers: its <c>tool_call_id</c>, else its (legacy function) <c>name</c>, else empty.</summary>
    public static string? AnsweredCallId(JsonElement message) =>
        message.TryGetProperty("tool_call_id", out var id) ? id.GetString() : message.TryGetProperty("name", out var name) ? name.GetString() : "";

    /// <summary>A tool's result as the JSON object it holds, or null when it is other text.</summary>
    public static JsonObject? ResultObject(string result)
    {
        try
        {
            return JsonNode.Parse(result) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>A function tool's <c>parameters</c> schema, or the empty object schema when it declares none.</summary>
    public static JsonNode? InputSchema(JsonElement function) =>
        function.TryGetProperty("parameters", out var p) ? JsonNode.Parse(p.GetRawText()) : new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() };

    /// <summary>
    /// A user message's content in an upstream's terms: the string, or each text part, through <paramref name="text"/>;
    /// each image part's URL, with the part's index, through <paramref name="image"/>; other parts are left out.
    /// </summary>
    public static IEnumerable<JsonNode> UserContent(JsonElement content, Func<string?, JsonNode> text, Func<string, int, JsonNode> image)
    {
        if (content.ValueKind == JsonValueKind.String)
        {
            yield return text(content.GetString());
            yield break;
        }
        if (content.ValueKind != JsonValueKind.Array) yield break;
        var partIndex = 0;
        foreach (var part in content.EnumerateArray())
        {
            var type = part.TryGetProperty("type", out var pt) ? pt.GetString() : null;
            if (type == "text")
            {
                yield return text(part.GetProperty("text").GetString());
            }
            else if (type == "image_url")
            {
                yield return image(part.GetProperty("image_url").GetProperty("url").GetString() ?? "", partIndex);
            }
            partIndex++;
        }
    }

    /// <summary>Splits a base64 data URL (<c>data:TYPE;base64,DATA</c>) into its media type and its data.</summary>
    public static bool TryParseDataUrl(string url, out string mediaType, out string data)
    {
        if (url.StartsWith("data:", StringComparison.Ordinal) && url.IndexOf(";base64,", StringComparison.Ordinal) is var i and > 5)
        {
            mediaType = url[5..i];
            data = url[(i + 8)..];
            return true;
        }
        mediaType = data = "";
        return false;
    }

    /// <summary>
    /// The function tools of an OpenAI request in an upstream's terms: for each, <paramref name="declare"/> completes an
    /// object that holds the function's name and description (when it has one) and returns the entry to list.
    /// </summary>
    public static JsonArray FunctionDeclarations(JsonElement tools, Func<JsonObject, JsonElement, JsonNode> declare)
    {
        var list = new JsonArray();
        foreach (var tool in tools.EnumerateArray())
        {
            if (!tool.TryGetProperty("function", out var fn)) continue;
            var declaration = new JsonObject { ["name"] = fn.GetProperty("name").GetString() };
            if (fn.TryGetProperty("description", out var d) && d.ValueKind == JsonValueKind.String) declaration["description"] = d.GetString();
            list.Add(declare(declaration, fn));
        }
        return list;
    }
}

/// <summary>
/// The alternating turns Anthropic, Bedrock and Gemini take (<c>[{"role", "content" | "parts": [...]}]</c>): items of
/// the same role in a row join one turn. A struct, so building a request allocates no more than the turns themselves.
/// </summary>
internal struct RoleTurns(string itemsName)
{
    private string? _lastRole;
    private JsonArray? _lastItems;

    public JsonArray Turns { get; } = [];

    public void Add(string role, JsonNode item)
    {
        if (role != _lastRole || _lastItems is null)
        {
            _lastItems = [];
            Turns.Add(new JsonObject { ["role"] = role, [itemsName] = _lastItems });
            _lastRole = role;
        }
        _lastItems.Add(item);
    }
}
