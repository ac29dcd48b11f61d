namespace LlmMarketplace.Portal.Tests.Infrastructure;

/// <summary>Typing as people do: key by key with a pause between keys, never a value set in one go.</summary>
public static class Typing
{
    public static readonly LocatorPressSequentiallyOptions PersonsPace = new() { Delay = 80 };

    /// <summary>Empties the field, then types <paramref name="text"/> at a person's pace.</summary>
    public static async Task TypeInAsync(this ILocator field, string text)
    {
        await field.ClearAsync();
        await field.PressSequentiallyAsync(text, PersonsPace);
    }
}
