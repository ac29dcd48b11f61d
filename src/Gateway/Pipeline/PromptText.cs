namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>One step of a <see cref="PromptText"/>'s place in a request body: a property name, or an array index.</summary>
public readonly record struct JsonStep(string? Property, int Index)
{
    public static JsonStep Of(string property) => new(property, -1);

    public static JsonStep At(int index) => new(null, index);
}

/// <summary>
/// A text a person sent in a call's request (a chat message, an input, a prompt, a query, a document): where it is in the
/// body, and whether a model takes it as instructions (a user's chat message or an image prompt; not a text to embed,
/// rank or classify). Each operation declares its texts; content stages (the shield) scan them whatever the operation,
/// and rewrite them with <see cref="GatewayCall.ReplacePromptTexts"/>.
/// </summary>
public sealed record PromptText(IReadOnlyList<JsonStep> Path, string Text, bool Instructions)
{
    /// <summary>The request field the text belongs to, for an error's <c>param</c> (<c>messages</c>, <c>input</c>, <c>documents</c>).</summary>
    public string Param => Path[0].Property ?? "";
}

/// <summary>Reads the <see cref="PromptText"/>s of a request body, for the operations' declarations.</summary>
internal static class PromptTextReader
{
    /// <summary>The string field <paramref name="name"/> of <paramref name="root"/>, if it is one.</summary>
    public static void AddString(List<PromptText> texts, JsonElement root, string name, bool instructions)
    {
        if (root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String)
        {
            texts.Add(new PromptText([JsonStep.Of(name)], value.GetString()!, instructions));
        }
    }

    /// <summary>
    /// The field <paramref name="name"/> when it is a string, or each item of it when it is an array: a string item, or the
    /// string property <paramref name="textProperty"/> of an object item (<c>{"text": ...}</c>). Anything else is not text.
    /// <paramref name="at"/> is where <paramref name="root"/> itself is in the body (empty for the body).
    /// </summary>
    public static void AddStrings(List<PromptText> texts, JsonElement root, string name, bool instructions, string? textProperty = null, params JsonStep[] at)
    {
        if (!root.TryGetProperty(name, out var value)) return;
        if (value.ValueKind == JsonValueKind.String)
        {
            texts.Add(new PromptText([.. at, JsonStep.Of(name)], value.GetString()!, instructions));
            return;
        }
        if (value.ValueKind != JsonValueKind.Array) return;
        var i = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String)
            {
                texts.Add(new PromptText([.. at, JsonStep.Of(name), JsonStep.At(i)], item.GetString()!, instructions));
            }
            else if (textProperty is not null && item.ValueKind == JsonValueKind.Object && item.TryGetProperty(textProperty, out var text) && text.ValueKind == JsonValueKind.String)
            {
                texts.Add(new PromptText([.. at, JsonStep.Of(name), JsonStep.At(i), JsonStep.Of(textProperty)], text.GetString()!, instructions));
            }
            i++;
        }
    }
}
